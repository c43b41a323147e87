"""What the entry points in scripts/ call once Hydra has composed the config."""

from __future__ import annotations

import logging
import math
import sys
import warnings
from pathlib import Path

from omegaconf import DictConfig

from experiments.errors import ConfigError, ExperimentError, RunInterrupted
from experiments.hydra_job import current_job
from experiments.job import Job
from experiments.output.console import announce_end
from experiments.run.config import register_resolvers
from experiments.run.entry import run_starts, startup_over, stop_if_asked
from experiments.run.resume import completed_before, hand_over_to_submitit, prepare_run
from experiments.run.run_lock import RunLocked, held

log = logging.getLogger("experiments")

register_resolvers()  # before Hydra composes the entry's config


def _record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A job that failed before train() could record it (a bad value, say): its metrics.json;
    a vectorized population: every grid point it held."""
    if cfg.get("population_plan"):
        from experiments.sweeps.population.training import record_failure

        record_failure(cfg, err)
        return
    from experiments.run.results import write_metrics

    output_dir = Path(cfg.output_dir)
    if not (output_dir / "metrics.json").exists():
        output_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(output_dir, "failed", str(err), 0, 0.0, {})


def silence_known_warnings() -> None:
    """Nothing a user can act on: Lightning 2.6's own use of a deprecated torch API, and its
    advice to checkpoint manual-optimization modules before the step (ours save after it, on
    purpose: the checkpoint of step N holds N updates, which is what resume needs). Nor its notes
    on a resumed or repeated run: the checkpoint folder is not empty (`resume` keeps it to one
    run's files), the last checkpoint's interval changed with `trainer.max_steps`, the best is
    tracked afresh in a new folder."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`")
    warnings.filterwarnings("ignore", message="The dirpath has changed from")


def run_training(cfg: DictConfig) -> float | None:
    """Train and return `optimized_metric` for sweepers (a failure: `_failed`).

    A run takes its folder's lock first (`run_lock`), and continues the folder's own unfinished
    run, or, in a sweep started again, a job completed before is not run again (`resume`).
    """
    silence_known_warnings()
    job = current_job()
    population = bool(cfg.get("population_plan"))  # a job of hydra/sweeper=vectorized
    # Until training starts a signal stops the run with one line (`entry`); a population trains
    # without `GracefulInterrupt`, under the signals' usual handlers.
    if population:
        startup_over()
    else:
        run_starts()
    if job.multirun and not population and (record := completed_before(cfg, job)) is not None:
        return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)
    try:
        with held(cfg.output_dir):
            return _train(cfg, job, population)
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


def _train(cfg: DictConfig, job: Job, population: bool) -> float | None:
    if population:
        from experiments.sweeps.population.training import train_population

        train_population(cfg, job)
        return None
    from experiments.run.training import train

    record = train(prepare_run(cfg, job), job)
    if not job.multirun:
        announce_end(cfg.output_dir)
    return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)


def record_lost_job(job_dir: Path, overrides: list[str], reason: str) -> None:
    """A job that ended without a result (the launcher's report): a population's grid points,
    each `failed`; an ordinary job as `resume.record_lost_job` records it."""
    plan = next((o.partition("=")[2] for o in overrides if o.startswith("+population_plan=")), "")
    if plan:
        from omegaconf import OmegaConf

        from experiments.sweeps.population.training import record_failure

        record_failure(OmegaConf.create({"population_plan": plan}), RuntimeError(reason))
        return
    from experiments.run.resume import record_lost_job as record_lost_run

    record_lost_run(job_dir, reason)


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
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    log.info("wrote %s/predictions.csv", cfg.output_dir)
