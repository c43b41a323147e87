"""What the entry points in scripts/ call once Hydra has composed the config."""

from __future__ import annotations

import logging
import sys
import warnings

from omegaconf import DictConfig

from experiments.errors import ExperimentError

log = logging.getLogger("experiments")


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_training(cfg: DictConfig) -> float | None:
    """Train; a user error is one logged line and exit status 1 (in a sweep, the job is recorded
    as failed and the other jobs go on). Returns the validation loss for sweepers to minimise."""
    from experiments.training import train

    # Lightning 2.6's own use of a deprecated torch API: nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    try:
        record = train(cfg)
    except ExperimentError as err:
        log.error("%s", err)
        if _is_multirun():
            return None
        sys.exit(1)
    return record.get("val/loss")


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
