"""What the entry points in scripts/ call once Hydra has composed the config."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from omegaconf import DictConfig

from experiments.errors import ConfigError, ExperimentError, RunInterrupted
from experiments.output.console import announce_end, is_multirun, silence_known_warnings
from experiments.run.entry import jobs_run_here, run_starts, stop_if_asked
from experiments.run.resume import completed_before, hand_over_to_submitit, prepare_run
from experiments.run.run_lock import RunLocked, held

log = logging.getLogger("experiments")


def _record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A job that failed before train() could record it (a bad value, say): its metrics.json."""
    from experiments.run.results import write_metrics

    output_dir = Path(cfg.output_dir)
    if not (output_dir / "metrics.json").exists():
        output_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(output_dir, "failed", str(err), 0, 0.0, {})


def run_training(cfg: DictConfig) -> float | None:
    """Train and return `optimized_metric` for sweepers.

    A user error is one logged line and exit status 1. In a sweep no job stops the others: a
    failure is recorded in the job's metrics.json (NaN to the sweeper), and the sweep summary
    exits non-zero at the end. An interruption (`interrupted`, a checkpoint at that step) ends a
    single run with status 1; in a sweep it is the job's result (NaN), so a launcher running jobs
    elsewhere (submitit, joblib) collects it, except where the job runs in the sweep's own process
    (the basic launcher): there the signal was meant for the sweep, which stops and reports.
    A run takes its folder's lock first (`run_lock`), and continues the folder's own unfinished
    run, or, in a sweep started again, a job completed before is not run again (`resume`).
    """
    silence_known_warnings()
    multirun = is_multirun()
    run_starts()  # until training starts a signal stops the run with one line (`entry`)
    if multirun and (record := completed_before(cfg)) is not None:
        return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)
    try:
        with held(cfg.output_dir):
            return _train(cfg, multirun)
    except RunLocked as err:  # another run's folder: nothing of ours to record there
        log.error("%s", err)
        if not multirun:
            sys.exit(1)
        return math.nan
    except RunInterrupted as err:
        log.error("%s", err)
        hand_over_to_submitit(err, cfg.output_dir)  # SIGUSR2 under submitit: requeued, exits
        if not multirun or jobs_run_here():
            sys.exit(1)
        return math.nan
    except ExperimentError as err:
        log.error("%s", err)
        if not multirun:
            sys.exit(1)
        _record_failure(cfg, err)
        return math.nan
    except Exception as err:
        if not multirun:
            raise
        log.exception("job failed: %s", err)
        _record_failure(cfg, err)
        return math.nan


def _train(cfg: DictConfig, multirun: bool) -> float | None:
    from experiments.run.training import train

    record = train(prepare_run(cfg, sweep_job=multirun))
    if not multirun:
        announce_end(cfg.output_dir)
    return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)


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
