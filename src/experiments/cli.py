"""What the entry points in scripts/ call once Hydra has composed the config."""

from __future__ import annotations

import logging
import math
import sys
import warnings
from pathlib import Path

from omegaconf import DictConfig

from experiments.errors import ExperimentError, RunInterrupted

log = logging.getLogger("experiments")


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A job that failed before train() could record it (a bad value, say): its metrics.json;
    a vectorized population: every grid point it held."""
    if cfg.get("population_plan"):
        from experiments.vectorized import record_failure

        record_failure(cfg, err)
        return
    from experiments.results import write_metrics

    output_dir = Path(cfg.output_dir)
    if not (output_dir / "metrics.json").exists():
        output_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(output_dir, "failed", str(err), 0, 0.0, {})


def silence_known_warnings() -> None:
    """Nothing a user can act on: Lightning 2.6's own use of a deprecated torch API, and its
    advice to checkpoint manual-optimization modules before the step (ours save after it, on
    purpose: the checkpoint of step N holds N updates, which is what resume needs)."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


def run_training(cfg: DictConfig) -> float | None:
    """Train and return `optimized_metric` for sweepers.

    A user error is one logged line and exit status 1. In a sweep no job stops the others: a
    failure is recorded in the job's metrics.json (NaN to the sweeper), and the sweep summary
    exits non-zero at the end. Ctrl+C or SIGTERM stops a sweep too: the finished jobs stay, and
    `scripts/summarize.py` reports them.
    """
    silence_known_warnings()
    multirun = _is_multirun()
    try:
        if cfg.get("population_plan"):  # a job of hydra/sweeper=vectorized
            from experiments.vectorized import train_population

            train_population(cfg)
            return None
        from experiments.training import train

        record = train(cfg)
    except ExperimentError as err:
        log.error("%s", err)
        if not multirun or isinstance(err, RunInterrupted):
            sys.exit(1)
        _record_failure(cfg, err)
        return math.nan
    except Exception as err:
        if not multirun:
            raise
        log.exception("job failed: %s", err)
        _record_failure(cfg, err)
        return math.nan
    return record.get(cfg.get("optimized_metric", "val/loss"), math.nan)


def run_prediction(cfg: DictConfig) -> None:
    """Print the predictions table; a user error is one logged line and exit status 1."""
    from experiments.predicting import predict

    try:
        table = predict(cfg)
    except ExperimentError as err:
        log.error("%s", err)
        sys.exit(1)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    log.info("wrote %s/predictions.csv", cfg.output_dir)
