"""The vectorized sweeper's job function, `run_population`: one population, from its plan file to
its grid points' job folders and its console line.

The sweeper (`hydra_plugins.experiments_vectorized_sweeper`) launches this function, not the
script's own, once per population, with the plan file as the override `plan_override` makes; so
nothing on the ordinary path (`experiments.cli.run_training`, `run.training.train`) asks whether it
runs a population. What that path does for a sweep job is done here with the run engine's shared
parts: the folder's lock, the config checks (and what a population cannot train), a failure
recorded for every grid point, and the job's one console line (`JobLines` prints it).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from experiments.architecture import Architecture
from experiments.errors import ConfigError, ExperimentError
from experiments.job import Job
from experiments.loop import data_parallel
from experiments.output.console import silence_known_warnings
from experiments.run.entry import startup_over
from experiments.run.results import write_metrics
from experiments.run.resume import hand_over_to_submitit
from experiments.run.run_lock import RunLocked, held
from experiments.run.trainer_check import check_population_keys
from experiments.sweeps.population.allocator import keep_freed_memory
from experiments.sweeps.population.interrupt import (
    PopulationInterrupted,
    interrupted_line,
    record_interrupted,
)
from experiments.sweeps.population.jobs import job_folder

log = logging.getLogger("experiments")

PLAN_KEY = "population_plan"  # the config key that hands a population job its plan file


def plan_override(plan_file: Path) -> str:
    """The override that makes a launched job the population of `plan_file`."""
    return f"+{PLAN_KEY}={plan_file}"


def read_plan(plan_file: Path) -> dict[str, Any]:
    """`{"sweep_dir": ..., "jobs": [{"job", "overrides", "run_name", "lr", "steps", "seed"}]}`."""
    return json.loads(Path(plan_file).read_text())


def run_population(cfg: DictConfig, launch: Job) -> str:
    """Train the population whose plan `cfg` names and return its console line. A failure (a bad
    value of the outer group, say) is logged and recorded `failed` in each of its grid points'
    metrics.json; the sweep goes on, and its summary exits non-zero."""
    plan_file = Path(cfg[PLAN_KEY])
    with open_dict(cfg):  # the members' configs are those of ordinary jobs: without the plan
        cfg.pop(PLAN_KEY)
    plan = read_plan(plan_file)
    silence_known_warnings()
    startup_over()  # usual signal handlers; while training, `PopulationInterrupt` (`stop_flag`)
    try:
        with held(cfg.output_dir):
            check_population(cfg)
            # Lightning only here: the sweeper imports this module to launch its jobs.
            from experiments.sweeps.population.training import train_population

            keep_freed_memory()  # a convnet population frees gigabytes at every update
            train_population(cfg, plan, launch)
    except RunLocked as err:  # another run's folder: nothing of ours to record there
        log.error("%s", err)
    except PopulationInterrupted as err:  # checkpointed at a step boundary (`interrupt`)
        record_interrupted(plan, err)
        log.error("%s", interrupted_line(plan, err))
        hand_over_to_submitit(err, cfg.output_dir)  # SIGUSR2 under submitit: requeued, exits
        if launch.jobs_run_here:  # the signal was meant for the sweep, as for ordinary jobs
            sys.exit(1)
    except ExperimentError as err:
        log.error("%s", err)
        record_failure(plan, str(err))
    except Exception as err:
        log.exception("population failed: %s", err)
        record_failure(plan, str(err))
    return population_line(plan_file)


def check_population(cfg: DictConfig) -> None:
    """What an ordinary run may do but a population cannot: compare=true (one scratch/autograd
    pair), a layer of the user's own (written for one network's tensors), several devices (one
    process); the members' config itself is checked as an ordinary run's (`check_config`) by
    `train_population`."""
    if cfg.get("compare") is True:
        raise ConfigError(
            "compare=true trains one scratch/autograd pair in lockstep, not a vectorized "
            "population: drop hydra/sweeper=vectorized (the basic sweeper runs compare=true jobs)"
        )
    if own := Architecture.from_config(cfg.model).layer_paths:
        key, name = next(iter(own.items()))
        raise ConfigError(
            f"{key}={name}: the vectorized sweeper cannot tell whether your layer treats a "
            "leading member dimension right; sweep it with the basic sweeper "
            "(drop hydra/sweeper=vectorized)"
        )
    check_population_keys(cfg)  # no epochs: the members' steps are the grid's
    data_parallel.check(cfg)  # what no run can do first (no strategy=ddp, too few cores)
    if (devices := data_parallel.requested_devices(cfg)) > 1:
        raise ConfigError(
            f"trainer.devices={devices} cannot train a vectorized population: "
            "drop hydra/sweeper=vectorized, or use trainer.devices=1"
        )


def record_failure(plan: dict[str, Any], reason: str, only_unrecorded: bool = False) -> None:
    """Every grid point of the population `failed` with `reason` (only those without a
    metrics.json, when `only_unrecorded`), so the sweep's summary reports them."""
    sweep_dir = Path(plan["sweep_dir"])
    for job in plan["jobs"]:
        if only_unrecorded and (sweep_dir / str(job["job"]) / "metrics.json").exists():
            continue
        write_metrics(job_folder(sweep_dir, job), "failed", reason, 0, 0.0, {})


def record_lost(plan_file: Path, folder: Path) -> None:
    """After the launch, by the sweeper: grid points a population left unrecorded, because its
    job was lost (SLURM cancelled or killed it, say), are `failed` with the reason the launcher
    recorded in the population's `folder` (`run.resume.record_lost_job`)."""
    try:
        reason = json.loads((folder / "metrics.json").read_text())["error"]
    except (OSError, ValueError, KeyError):
        reason = "its population's job ended without a result"
    record_failure(read_plan(plan_file), reason, only_unrecorded=True)


def population_line(plan_file: Path) -> str:
    """`population_0: 1024 grid points  1020 completed, 4 diverged`."""
    jobs = read_plan(plan_file)["jobs"]
    counts = Counter(_status(plan_file.parent / str(job["job"])) for job in jobs)
    statuses = ", ".join(f"{n} {status}" for status, n in counts.most_common())
    return f"{plan_file.stem}: {len(jobs)} grid points  {statuses}"


def _status(job_dir: Path) -> str:
    try:
        return json.loads((job_dir / "metrics.json").read_text()).get("status", "missing")
    except (OSError, ValueError):
        return "missing"
