"""The sweep's `optimized_metric`: the direction follows the metric (or the summary's explicit
mode), a test metric and a metric no run logs are refused when the sweep starts, and Optuna's
direction follows the same rule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from helpers import CONF, multirun, run_script
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from experiments.errors import ConfigError
from experiments.run import sweep_metric
from experiments.run.config import register_resolvers
from experiments.sweeps.metric_check import check_sweep
from experiments.sweeps.report import report

FAST_S = 15  # one subprocess on a loaded 2-core machine

register_resolvers()  # as the entry points do: `${optuna_direction:...}` in hparams_search


@pytest.mark.parametrize(
    ("metric", "better"),
    [
        ("val/loss", "min"),
        ("train/loss", "min"),
        ("val/mae", "min"),
        ("test/rmse", "min"),
        ("val/mse", "min"),
        ("test/baseline_mae", "min"),
        ("val/acc", "max"),
        ("test/f1_macro", "max"),
        ("test/r2", "max"),
        ("val/auroc", "max"),
        ("val/something", None),
    ],
)
def test_the_direction_follows_the_metric(metric: str, better: str | None) -> None:
    assert sweep_metric.better(metric) == better


def test_an_explicit_mode_wins_over_the_metric() -> None:
    assert sweep_metric.sweep_mode("val/acc") == "max"
    assert sweep_metric.sweep_mode("val/acc", "min") == "min"
    assert sweep_metric.sweep_mode("val/loss", "max") == "max"
    with pytest.raises(ConfigError, match="mode='best' is unknown"):
        sweep_metric.sweep_mode("val/loss", "best")


def test_a_test_metric_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"is a test metric: .* e\.g\. optimized_metric=val/acc"):
        sweep_metric.check_name("test/acc")


@pytest.mark.parametrize("metric", ["nope", "val/f1", "val/acc ", "", None])
def test_a_metric_no_run_logs_is_refused(metric) -> None:
    with pytest.raises(ConfigError, match=r"use val/loss, val/acc \(binary or multiclass\)"):
        sweep_metric.check_name(metric)


def test_the_task_must_log_the_metric() -> None:
    sweep_metric.check_for_task("val/acc", "multiclass")
    sweep_metric.check_for_task("val/mae", "regression")
    with pytest.raises(ConfigError, match="val/mae is not logged by a binary run"):
        sweep_metric.check_for_task("val/mae", "binary")
    with pytest.raises(ConfigError, match="val/acc is not logged by a regression run"):
        sweep_metric.check_for_task("val/acc", "regression")
    with pytest.raises(ConfigError, match="not logged by a binary run"):
        sweep_metric.check_for_task("train/loss_autograd", "binary")
    sweep_metric.check_for_task("train/loss_autograd", "binary", compare=True)


def _job(sweep: Path, job: int, lr: float, **metrics: float) -> None:
    (sweep / str(job) / ".hydra").mkdir(parents=True)
    (sweep / str(job) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"model.lr={lr}"]))
    record = {"status": "completed", "error": None, "steps": 10, "seconds": 1.0, **metrics}
    (sweep / str(job) / "metrics.json").write_text(json.dumps(record))


def test_the_best_job_by_accuracy_is_the_highest(tmp_path, caplog) -> None:
    _job(tmp_path, 0, 0.1, **{"val/loss": 0.30, "val/acc": 0.70})
    _job(tmp_path, 1, 0.2, **{"val/loss": 0.20, "val/acc": 0.90})
    _job(tmp_path, 2, 0.3, **{"val/loss": 0.25, "val/acc": 0.60})
    caplog.set_level("INFO")
    assert report(tmp_path, "val/acc") == 0
    assert "best job 1 by val/acc = 0.9" in caplog.text
    caplog.clear()
    assert report(tmp_path, "val/acc", "min") == 0  # said explicitly: the user's choice
    assert "best job 2 by val/acc = 0.6" in caplog.text
    caplog.clear()
    assert report(tmp_path) == 0  # val/loss: lower
    assert "best job 1 by val/loss = 0.2" in caplog.text


def _sweep_config(*overrides: str, task: list[str] | None = None):
    """train.yaml with its hydra node, as a sweep's start sees it; `task`: the command line."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.overrides.task = task if task is not None else list(overrides)
    return cfg


@pytest.mark.parametrize(
    ("overrides", "direction"),
    [
        ([], "minimize"),
        (["optimized_metric=val/acc"], "maximize"),
        (["optimized_metric=val/acc", "hydra.callbacks.sweep_summary.mode=min"], "minimize"),
        (["optimized_metric=train/loss"], "minimize"),
    ],
)
@pytest.mark.parametrize("search", ["heart_optuna", "xor_optuna"])
def test_optunas_direction_follows_the_metric(search, overrides, direction) -> None:
    cfg = _sweep_config(f"hparams_search={search}", *overrides)
    assert OmegaConf.select(cfg, "hydra.sweeper.direction") == direction
    assert check_sweep(cfg) == direction[:3]


def test_optunas_direction_against_the_metric_is_refused() -> None:
    cfg = _sweep_config(
        "hparams_search=xor_optuna", "optimized_metric=val/acc", "hydra.sweeper.direction=minimize"
    )
    with pytest.raises(ConfigError, match=r"use hydra\.sweeper\.direction=maximize"):
        check_sweep(cfg)


def test_the_task_check_waits_for_the_jobs_when_the_data_is_swept() -> None:
    with pytest.raises(ConfigError, match="val/mae is not logged by a binary run"):
        check_sweep(_sweep_config("experiment=xor", "optimized_metric=val/mae"))
    swept = ["experiment=xor,linear", "optimized_metric=val/mae"]
    cfg = _sweep_config("optimized_metric=val/mae", task=swept)
    assert check_sweep(cfg) == "min"  # each job checks its own task


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimized_metric=nope"], "optimized_metric=nope is not a metric a run logs: use"),
        (["optimized_metric=test/acc"], "optimized_metric=test/acc is a test metric"),
        (["optimized_metric=val/mae"], "optimized_metric=val/mae is not logged by a binary run"),
    ],
)
def test_a_sweep_refuses_the_metric_before_any_job(tmp_path, overrides, message) -> None:
    sweep = tmp_path / "sweep"
    started = time.perf_counter()
    done = multirun("experiment=xor", "model.lr=0.1,0.2", *overrides, sweep_dir=sweep)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert message in output and "Traceback" not in output, output[-2000:]
    assert len(output.strip().splitlines()) == 1, output[-2000:]
    assert not sweep.exists(), "no sweep folder, no job started"
    assert seconds < FAST_S


@pytest.mark.slow
def test_optuna_maximizes_accuracy(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    done = run_script(
        "train.py",
        "-m",
        "hparams_search=xor_optuna",
        "optimized_metric=val/acc",
        "hydra.sweeper.n_trials=1",
        "trainer.max_steps=5",
        f"hydra.sweep.dir={sweep}",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-2000:]
    assert "Directions: ['maximize']" in output, output[-2000:]
    assert "best job 0 by val/acc" in output


def test_summarize_on_a_missing_path_says_it_does_not_exist(tmp_path) -> None:
    done = run_script("summarize.py", str(tmp_path / "gone"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"error: {tmp_path / 'gone'} does not exist: give the folder of one sweep, "
        "outputs/multiruns/<timestamp>"
    )


def test_summarize_refuses_a_test_metric(tmp_path) -> None:
    _job(tmp_path, 0, 0.1, **{"val/loss": 0.3, "test/acc": 0.7})
    done = run_script("summarize.py", str(tmp_path), "--metric", "test/acc")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --metric test/acc is a test metric"), done.stderr
    assert "e.g. --metric val/acc" in done.stderr
    assert not (tmp_path / "summary.csv").exists()
