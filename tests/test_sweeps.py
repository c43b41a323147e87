"""Real multiruns, launched as subprocesses the way a user types them, and their summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers import job_dirs, multirun, non_trivial, read_metrics, run_script
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

pytestmark = pytest.mark.slow


def assert_summary_matches_jobs(sweep_dir: Path, n_jobs: int) -> pd.DataFrame:
    """summary.csv has one row per job, and its figures are the jobs' metrics.json figures."""
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert len(summary) == n_jobs == len(job_dirs(sweep_dir))
    for _, row in summary.iterrows():
        metrics = read_metrics(sweep_dir / str(row["job"]))
        assert row["status"] == metrics["status"]
        for key, value in metrics.items():
            if isinstance(value, float) and key != "seconds":
                assert row[key] == pytest.approx(value, rel=1e-9), (row["job"], key)
    assert "| job |" in (sweep_dir / "summary.md").read_text().replace("  ", " ").replace("  ", " ")
    assert non_trivial(sweep_dir / "summary.png")
    return summary


GRID = ["experiment=xor", "model.lr=0.5,2.0", "trainer.max_steps=60,120"]


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]])
def test_lr_by_iterations_grid(tmp_path, launcher) -> None:
    sweep_dir = tmp_path / "sweep"
    done = multirun(*GRID, *launcher, sweep_dir=sweep_dir)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = assert_summary_matches_jobs(sweep_dir, 4)
    assert set(summary["status"]) == {"completed"}
    assert sorted(zip(summary["model.lr"], summary["trainer.max_steps"], strict=True)) == [
        (0.5, 60),
        (0.5, 120),
        (2.0, 60),
        (2.0, 120),
    ]
    assert (summary["steps"] == summary["trainer.max_steps"]).all()
    best = summary.loc[summary["val/loss"].idxmin()]
    assert f"best job {best['job']} by val/loss" in done.stdout + done.stderr

    events = EventMultiplexer().AddRunsFromDirectory(str(sweep_dir)).Reload()
    runs = events.Runs()
    assert len(runs) == 4
    names = {Path(run).name for run in runs}
    assert "lr=0.5,max_steps=60,experiment=xor" in names, "run names lead with what differs"
    assert all("train/loss" in tags["scalars"] for tags in runs.values())


def test_submitit_local_launcher(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["experiment=and_gate", "model=scratch,mlp", "trainer.max_steps=50"]
    done = multirun(*args, "hydra/launcher=submitit_local", sweep_dir=sweep_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = assert_summary_matches_jobs(sweep_dir, 2)
    assert list(summary["model"]) == ["scratch", "mlp"]
    assert set(summary["status"]) == {"completed"}


def test_optuna_search(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = multirun("hparams_search=xor_optuna", "hydra.sweeper.n_trials=3", sweep_dir=sweep_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = assert_summary_matches_jobs(sweep_dir, 3)
    results = (sweep_dir / "optimization_results.yaml").read_text()
    best = summary.loc[summary["val/loss"].idxmin()]
    assert f"best_value: {best['val/loss']}"[:20] in results, "Optuna optimised val/loss"
    best_line = (done.stdout + done.stderr).split(f"best job {best['job']}")[1].splitlines()[0]
    assert "test/acc" in best_line, "the best trial's test score is reported"


def test_optuna_search_over_convnets(tmp_path) -> None:
    """digits_cnn's search maximizes val/acc over convolution keys; the summary's best job is
    Optuna's best trial (the summary's direction follows val/acc too)."""
    sweep_dir = tmp_path / "sweep"
    args = ["hparams_search=digits_cnn_optuna", "hydra.sweeper.n_trials=3"]
    done = multirun(*args, "trainer.max_steps=40", sweep_dir=sweep_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = assert_summary_matches_jobs(sweep_dir, 3)
    assert set(summary["model.kernel_size"]) <= {3, 5}
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(summary["val/acc"].max(), abs=1e-6)
    best = summary.loc[summary["val/acc"].idxmax()]
    assert f"best job {best['job']} by val/acc" in done.stdout + done.stderr


def test_diverging_and_failing_jobs_do_not_stop_the_sweep(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["experiment=linear", "model.lr=0.01,100", "model.init=default,bogus"]
    done = multirun(*args, sweep_dir=sweep_dir)
    assert done.returncode == 1, "a sweep with failed jobs exits non-zero, after all of them"

    summary = assert_summary_matches_jobs(sweep_dir, 4).set_index(["model.lr", "model.init"])
    assert summary.loc[(0.01, "default"), "status"] == "completed"
    diverged = summary.loc[(100.0, "default")]
    assert diverged["status"] == "diverged"
    assert f"diverged at step {diverged['steps']}" in diverged["error"]
    assert "lower model.lr" in diverged["error"]
    for lr in (0.01, 100.0):
        assert summary.loc[(lr, "bogus"), "status"] == "failed"
        assert "model.init='bogus' is unknown" in summary.loc[(lr, "bogus"), "error"]
    assert "3 of 4 jobs did not complete" in done.stdout + done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_job_fails_alone_where_there_is_no_gpu(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["experiment=and_gate", "trainer.max_steps=50", "trainer.accelerator=cpu,gpu"]
    done = multirun(*args, sweep_dir=sweep_dir)
    assert done.returncode == 1
    summary = assert_summary_matches_jobs(sweep_dir, 2).set_index("trainer.accelerator")
    assert summary.loc["cpu", "status"] == "completed"
    assert summary.loc["gpu", "status"] == "failed"
    gpu_metrics = json.loads((sweep_dir / "1" / "metrics.json").read_text())
    assert "use trainer.accelerator=cpu or trainer.accelerator=auto" in gpu_metrics["error"]


def test_summary_can_be_rewritten_and_reports_missing_jobs(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = multirun("experiment=and_gate", "trainer.max_steps=30,60", sweep_dir=sweep_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep_dir / "1" / "metrics.json").unlink()  # as if killed before it finished

    again = run_script("summarize.py", str(sweep_dir))
    assert again.returncode == 1
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary["status"]) == ["completed", "missing"]
    assert summary.loc[0, "val/loss"] == pytest.approx(read_metrics(sweep_dir / "0")["val/loss"])
    assert "job 1 missing" in again.stdout + again.stderr
