"""Any stock Lightning logger instead of ours or beside it (`logger=csv`, `logger=none`, a list of
loggers), and the `Job` a real sweep's jobs are given."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from helpers import job_dirs, multirun, run_script
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.hydra_job import job_of
from experiments.run.trainer import tensorboard_version
from experiments.run.training import train

NO_EXTRAS = ["experiment=xor", "trainer.max_steps=40", "callbacks=none"]
NO_BAR = "trainer.enable_progress_bar=false"


def _csv_rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_logger_csv_writes_lightning_s_metrics_csv(make_cfg) -> None:
    cfg = make_cfg(*NO_EXTRAS, NO_BAR, "logger=csv", quiet=False)
    record = train(cfg)
    folder = Path(cfg.output_dir)
    assert record["status"] == "completed"
    assert json.loads((folder / "metrics.json").read_text())["status"] == "completed"
    rows = _csv_rows(folder / "metrics.csv")
    losses = [float(r["train/loss"]) for r in rows if r["train/loss"]]
    assert len(losses) >= 10, "train/loss at each logging step"
    assert [int(r["step"]) for r in rows if r["train/loss"]][:2] == [1, 2], "optimizer steps"
    final = [r for r in rows if r["val/loss"]][-1]
    assert float(final["val/loss"]) == record["val/loss"], "the final metrics' row"
    assert int(final["step"]) == record["steps"] == 40
    assert not (folder / "tensorboard").exists(), "csv instead of TensorBoard"


def test_logger_none_completes_without_a_logger(make_cfg, tmp_path) -> None:
    cfg = make_cfg(*NO_EXTRAS, NO_BAR, "logger=none", quiet=False)
    record = train(cfg)
    assert record["status"] == "completed" and record["steps"] == 40
    written = {p.name for p in tmp_path.glob("run*/*")}
    assert "metrics.json" in written and "weights.pth" in written
    assert "tensorboard" not in written and "metrics.csv" not in written


def test_two_loggers_each_get_the_run(make_cfg) -> None:
    cfg = make_cfg(*NO_EXTRAS, NO_BAR, "logger=[tensorboard,csv]", quiet=False)
    record = train(cfg)
    assert record["status"] == "completed"
    rows = _csv_rows(f"{cfg.output_dir}/metrics.csv")
    assert any(r["train/loss"] for r in rows)
    events = EventAccumulator(f"{cfg.output_dir}/tensorboard").Reload()
    assert "train/loss" in events.Tags()["scalars"]
    assert events.Scalars("val/loss")[-1].value == record["val/loss"]
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")


def test_logger_null_is_one_line() -> None:
    done = run_script("train.py", "experiment=xor", "logger=null")
    assert done.returncode == 1
    assert "logger=null: a config group takes an option: use logger=none" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_job_of_a_real_sweep(tmp_path) -> None:
    """Each job of a sweep is told its number, its overrides, the swept keys and the plan's size;
    its TensorBoard run is named from them."""
    sweep = tmp_path / "sweep"
    args = ("experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=20", "callbacks=none")
    done = multirun(*args, sweep_dir=sweep)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    for num, folder in enumerate(job_dirs(sweep)):
        job = job_of(OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra)
        assert job.multirun and job.num == num and job.total == 2
        assert job.varied == {"model.lr"}
        assert sorted(job.overrides) == sorted(
            [
                "experiment=xor",
                f"model.lr={(0.5, 1.0)[num]}",
                "trainer.max_steps=20",
                "callbacks=none",
            ]
        )
        assert job.completed_before is None, "the sweep's first start"
        version = tensorboard_version(job)
        assert version.startswith(f"lr={(0.5, 1.0)[num]},")
        assert [p.name for p in (folder / "tensorboard").iterdir()] == [version]
    assert "[1/2] model.lr=0.5" in done.stdout and "[2/2] model.lr=1.0" in done.stdout
