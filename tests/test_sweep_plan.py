"""The sweep's plan (`sweep_plan.json`), in-process: the jobs a sweep means to run, the ones it
had completed before, and the report listing every planned job, never-started ones included."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import OmegaConf

from experiments.sweeps import plan as sweep_plan
from experiments.sweeps.report import SweepSummary, collect

BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
OPTUNA = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


def sweep_config(sweep_dir: Path, task: list[str], sweeper: str = BASIC, **knobs):
    """What Hydra hands a callback's on_multirun_start, as far as the plan reads it."""
    hydra = {"sweep": {"dir": str(sweep_dir)}, "overrides": {"task": task}}
    hydra["sweeper"] = {"_target_": sweeper, **knobs}
    return OmegaConf.create({"hydra": hydra})


def make_job(sweep_dir: Path, job: int, overrides: list[str], status: str | None) -> None:
    (sweep_dir / str(job) / ".hydra").mkdir(parents=True)
    (sweep_dir / str(job) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if status is not None:
        record = {"status": status, "error": None, "steps": 10, "seconds": 1.0, "val/loss": 0.5}
        (sweep_dir / str(job) / "metrics.json").write_text(json.dumps(record))


def test_the_plan_lists_the_grid_and_what_was_completed_before(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    make_job(sweep_dir, 0, ["model.lr=0.5", "seed=0"], "completed")
    make_job(sweep_dir, 1, ["model.lr=0.5", "seed=1"], "interrupted")
    make_job(sweep_dir, 2, ["model.lr=9", "seed=0"], "completed")  # an earlier grid's job
    config = sweep_config(sweep_dir, ["model.lr=0.5,1.0", "seed=0,1"], params={"data": "xor"})
    sweep_plan.write(config)

    planned = sweep_plan.jobs(sweep_dir)
    assert planned[0] == ["data=xor", "model.lr=0.5", "seed=0"]  # params first, as Hydra's
    assert planned[3] == ["data=xor", "model.lr=1.0", "seed=1"]
    assert sweep_plan.completed_before(sweep_dir, 0) == ["model.lr=0.5", "seed=0"]
    assert sweep_plan.completed_before(sweep_dir, 1) is None, "only completed runs are skipped"
    assert sweep_plan.completed_before(sweep_dir, 2) == ["model.lr=9", "seed=0"]

    table = collect(sweep_dir)  # every planned job; folders of other overrides are not this sweep's
    assert list(table["job"]) == [0, 1, 2, 3]
    assert list(table["status"]) == ["missing", "missing", "missing", "missing"]
    assert list(table["seed"]) == [0, 1, 0, 1] and list(table["model.lr"]) == [0.5, 0.5, 1, 1]
    assert table.loc[3, "error"] == "never started"
    assert table.loc[0, "error"].startswith("folder holds model.lr=0.5 seed=0")


def test_optuna_plans_n_trials_and_other_sweepers_no_list(tmp_path) -> None:
    sweep_plan.write(
        sweep_config(tmp_path / "optuna", ["hparams_search=xor_optuna"], OPTUNA, n_trials=3)
    )
    assert sweep_plan.jobs(tmp_path / "optuna") == {0: None, 1: None, 2: None}
    sweep_plan.write(sweep_config(tmp_path / "other", ["seed=0,1"], "somewhere.OtherSweeper"))
    assert sweep_plan.jobs(tmp_path / "other") == {}


def test_a_sweep_that_stops_before_its_end_still_reports(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    make_job(sweep_dir, 0, ["seed=0"], "completed")
    summary = SweepSummary()
    summary.on_multirun_start(sweep_config(sweep_dir, ["seed=0,1,2"]))
    summary._report_at_exit(os.getpid())  # what atexit runs when the sweep process exits early
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert list(table["status"]) == ["completed", "missing", "missing"]
    (sweep_dir / "summary.csv").unlink()
    summary._report_at_exit(os.getpid())
    assert not (sweep_dir / "summary.csv").exists(), "reported once"
