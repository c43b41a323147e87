"""Data-parallel training (trainer.devices=2 trainer.strategy=ddp) on the CPU with gloo: the same
weights as one process with the same global batch, one set of files, and one-line refusals."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import multirun, read_metrics, run_cli

pytestmark = pytest.mark.slow

# 15-row mini-batches: ranks get 8 and 7 rows, so the weighting of unequal shards is exercised.
RUN = [
    "experiment=heart",
    "data.batch_size=15",
    "trainer.precision=64-true",
    "trainer.max_steps=40",
]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for 2 CPU ranks")
@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_two_ranks_train_the_same_weights_as_one(tmp_path, model) -> None:
    runs = {}
    for devices in (1, 2):
        run_dir = tmp_path / f"devices{devices}"
        args = [*RUN, f"model={model}", f"trainer.devices={devices}", "trainer.strategy=ddp"]
        done = run_cli(*args, run_dir=run_dir, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[devices] = run_dir
    one = torch.load(runs[1] / "weights.pth", weights_only=True)
    two = torch.load(runs[2] / "weights.pth", weights_only=True)
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-8
    metrics = read_metrics(runs[2])
    assert metrics["status"] == "completed" and metrics["steps"] == 40
    counts = [metrics[f"test/{c}"] for c in ("tn", "fp", "fn", "tp")]
    assert sum(counts) == 61, "the whole test split, counted once"
    assert counts == [read_metrics(runs[1])[f"test/{c}"] for c in ("tn", "fp", "fn", "tp")]
    assert metrics["val/loss"] == pytest.approx(read_metrics(runs[1])["val/loss"], abs=1e-12)
    assert len(list(runs[2].rglob("metrics.json"))) == 1


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for 2 CPU ranks")
@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_two_ranks_train_a_convnet_as_one(tmp_path, model) -> None:
    """digits_cnn's convolution, pooling and Adam: the shards' gradients averaged by hand (scratch)
    or by DDP (mlp) give one process's weights and the same test digits."""
    args = ["experiment=digits_cnn", "model.channels=[4]", "data.batch_size=15", f"model={model}"]
    args += ["trainer.precision=64-true", "trainer.max_steps=30", "trainer.strategy=ddp"]
    weights = {}
    for devices in (1, 2):
        run_dir = tmp_path / f"devices{devices}"
        done = run_cli(*args, f"trainer.devices={devices}", run_dir=run_dir, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        weights[devices] = torch.load(run_dir / "weights.pth", weights_only=True)
    assert weights[1]["1.weight"].dim() == 4, "layer 1 (after Unflatten) is a convolution"
    assert max((weights[1][k] - weights[2][k]).abs().max().item() for k in weights[1]) < 1e-8
    one, two = read_metrics(tmp_path / "devices1"), read_metrics(tmp_path / "devices2")
    assert two["test/acc"] == one["test/acc"] and two["steps"] == 30


REFUSED = {
    "more ranks than cores": (
        [f"trainer.devices={(os.cpu_count() or 1) + 1}", "trainer.strategy=ddp"],
        "cores",
    ),
    "no ddp strategy": (["trainer.devices=2"], "needs trainer.strategy=ddp"),
    "one-row batches": (
        ["experiment=heart_lesson", "trainer.devices=2", "trainer.strategy=ddp"],
        "use data.batch_size>=2",
    ),
    "several updates per batch": (
        ["trainer.devices=2", "trainer.strategy=ddp", "updates_per_batch=5"],
        "cannot run data-parallel",
    ),
}


@pytest.mark.parametrize(("args", "message"), REFUSED.values(), ids=REFUSED)
def test_what_cannot_run_data_parallel_is_one_line(tmp_path, args, message) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=xor", *args, run_dir=run_dir, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert message in output and "Traceback" not in output, output[-2000:]
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for 2 CPU ranks")
def test_a_population_is_not_split_across_ranks(tmp_path) -> None:
    """The vectorized sweeper's entry refuses several devices; its grid points say why."""
    sweep = tmp_path / "sweep"
    args = ["experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=20"]
    ddp = ["trainer.devices=2", "trainer.strategy=ddp", "hydra/sweeper=vectorized"]
    done = multirun(*args, *ddp, sweep_dir=sweep)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    assert "population_0: 2 grid points  2 failed" in output, output[-2000:]
    for job in ("0", "1"):
        assert "cannot train a vectorized population" in read_metrics(sweep / job)["error"]
