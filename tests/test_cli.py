"""`scripts/train.py` as a user runs it: the run directory, TensorBoard, overrides and errors."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import read_metrics, run_cli, the_one_error_line
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.run.training import train


def test_a_run_writes_the_documented_layout(tmp_path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        "experiment=xor",
        "model=scratch",
        "model.lr=1.5",
        "trainer.max_steps=300",
        "seed=3",
        run_dir=run_dir,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["error"] is None
    assert metrics["steps"] == 300
    assert metrics["seconds"] > 0
    assert {"train/loss", "val/loss", "val/acc", "test/loss", "test/acc", "test/baseline_acc"} <= (
        metrics.keys()
    )

    overrides = (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "model.lr=1.5" in overrides and "seed=3" in overrides
    assert "lr: 1.5" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert "completed after 300 steps" in (run_dir / "train.log").read_text()

    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 300
    assert any(p.name.startswith("best-") for p in (run_dir / "checkpoints").iterdir())

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "val/loss", "val/acc", "test/acc"} <= set(scalars)
    train_points = events.Scalars("train/loss")
    steps = [p.step for p in train_points]
    assert len(steps) >= 10
    assert min(b - a for a, b in itertools.pairwise(steps[:-1])) >= 3, (
        "train/loss is logged every N steps, not every step"
    )
    assert train_points[-1].value < train_points[0].value


def test_hparams_hold_the_real_final_metrics(tmp_path) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir = tmp_path / "run"
    done = run_cli("experiment=and_gate", "model=mlp", "trainer.max_steps=50", run_dir=run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    content = events.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    hparams = {k: v.ListFields()[0][1] for k, v in session.hparams.items()}
    assert hparams["model"] == "mlp" and hparams["experiment"] == "and_gate"
    assert hparams["lr"] == 2.0 and hparams["max_steps"] == "50"  # integers shown as such
    assert "hp_metric" not in events.Tags()["scalars"]
    metrics = read_metrics(run_dir)
    assert events.Scalars("test/acc")[-1].value == pytest.approx(metrics["test/acc"])


def test_same_seed_same_metrics(make_cfg) -> None:
    first, second = (
        train(make_cfg("experiment=heart", "model=scratch", "seed=7", "data.batch_size=8"))
        for _ in range(2)
    )
    first.pop("seconds"), second.pop("seconds")
    assert first == second


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_without_gpu_is_a_one_line_error(tmp_path) -> None:
    done = run_cli("experiment=xor", "trainer.accelerator=gpu", run_dir=tmp_path / "run")
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "use trainer.accelerator=cpu or trainer.accelerator=auto" in output
    assert "Traceback" not in output
    assert not (tmp_path / "run" / "metrics.json").exists(), "nothing that looks like a result"


def test_a_bad_command_into_a_finished_runs_folder_keeps_its_result(tmp_path) -> None:
    """The folder's earlier result goes only once the new run's inputs are good."""
    run_dir = tmp_path / "run"
    first = run_cli("experiment=xor", "trainer.max_steps=20", run_dir=run_dir)
    assert first.returncode == 0, first.stderr[-2000:]
    before = {name: (run_dir / name).read_bytes() for name in ("metrics.json", "weights.pth")}
    again = run_cli("experiment=xor", "model.lr=-1", run_dir=run_dir)
    assert "model.lr=-1" in the_one_error_line(again)
    assert {name: (run_dir / name).read_bytes() for name in before} == before
    assert read_metrics(run_dir)["status"] == "completed"
