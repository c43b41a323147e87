"""What the entry points in scripts/ call once Hydra has composed the config."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from omegaconf import DictConfig

from experiments.errors import (
    ConfigError,
    ExperimentError,
    RunInterrupted,
    StorageError,
    storage_error,
)
from experiments.hydra_job import current_job
from experiments.job import Job
from experiments.output.console import announce_end, silence_known_warnings
from experiments.run.config import register_resolvers
from experiments.run.entry import run_starts, stop_if_asked
from experiments.run.resume import completed_before, hand_over_to_submitit, prepare_run
from experiments.run.run_lock import RunLocked, held

log = logging.getLogger("experiments")

register_resolvers()  # before Hydra composes the entry's config


def _record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A job that failed before train() could record it (a bad value, say): its metrics.json."""
    from experiments.run.results import write_metrics

    output_dir = Path(cfg.output_dir)
    if not (output_dir / "metrics.json").exists():
        try:
            write_metrics(output_dir, "failed", str(err), 0, 0.0, {})
        except StorageError as full:  # the disk that failed the job: said, the sweep goes on
            log.error("%s", full)


def run_training(cfg: DictConfig) -> float | None:
    """Train and return `optimized_metric` for sweepers (a failure: `_failed`).

    A run takes its folder's lock first (`run_lock`), and continues the folder's own unfinished
    run, or, in a sweep started again, a job completed before is not run again (`resume`).
    """
    silence_known_warnings()
    job = current_job()
    run_starts()  # until training starts a signal stops the run with one line (`entry`)
    if job.multirun and (record := completed_before(cfg, job)) is not None:
        return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)
    try:
        with held(cfg.output_dir):
            return _train(cfg, job)
    except Exception as err:
        return _failed(cfg, job, err)


def _failed(cfg: DictConfig, job: Job, err: Exception) -> float:
    """How a run's failure ends it, in one place. A user error (an `ExperimentError`) is one
    logged line; a bug, its traceback. A single run then exits with status 1. In a sweep no job
    stops the others: the failure is the job's result (NaN to the sweeper), recorded in its
    metrics.json (an interrupted run recorded itself; a locked folder is another run's), and the
    sweep summary exits non-zero at the end. An interruption (`interrupted`, a checkpoint at that
    step) under submitit's SIGUSR2 is handed over to submitit, which requeues the job; where the
    job runs in the sweep's own process (the basic launcher) the signal was meant for the
    sweep, which stops and reports."""
    err = storage_error(err, None if getattr(err, "filename", None) else cfg.output_dir) or err
    if not isinstance(err, ExperimentError):
        if not job.multirun:
            raise err
        log.exception("job failed: %s", err)
    else:
        log.error("%s", err)
    if isinstance(err, RunInterrupted):
        hand_over_to_submitit(err, cfg.output_dir)  # SIGUSR2 under submitit: requeued, exits
    if not job.multirun or (isinstance(err, RunInterrupted) and job.jobs_run_here):
        sys.exit(1)
    if not isinstance(err, (RunLocked, RunInterrupted)):
        _record_failure(cfg, err)
    return math.nan


def _train(cfg: DictConfig, job: Job) -> float | None:
    from experiments.run.training import train

    record = train(cfg, job, prepare=prepare_run)
    if not job.multirun and not cfg.trainer.get("fast_dev_run"):  # a smoke run wrote nothing
        announce_end(cfg.output_dir)
    return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)


def run_population_job(cfg: DictConfig) -> str:
    """The vectorized sweeper's task function: one population, launched as Hydra launched it
    (`sweeps.population.entry.run_population`)."""
    from experiments.sweeps.population.entry import run_population

    return run_population(cfg, current_job())


def run_prediction(cfg: DictConfig) -> None:
    """Print the predictions table; a user error is one logged line and exit status 1."""
    from omegaconf import OmegaConf

    try:
        if OmegaConf.is_missing(cfg, "ckpt_path"):  # before torch: one line within a second
            raise ConfigError(
                "ckpt_path is required: give ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt"
            )
        from experiments.run.predicting import predict

        stop_if_asked()  # a signal that came during that import (`entry`)
        table = predict(cfg)
    except ExperimentError as err:
        log.error("%s", err)
        sys.exit(1)
    except OSError as err:  # a full disk, a folder not ours: one line naming the path
        if (line := storage_error(err)) is None:
            raise
        log.error("%s", line)
        sys.exit(1)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    log.info("wrote %s/predictions.csv", cfg.output_dir)
