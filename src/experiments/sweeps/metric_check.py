"""`SweepMetricCheck`, a Hydra callback: a sweep's `optimized_metric`, its summary's mode and
Optuna's direction are checked when the sweep starts, before any job runs or any folder is made;
a wrong one is one logged line and exit status 1 (the rules: `experiments.run.sweep_metric`).

Whether the data's task logs the metric (`val/mae` on a classification table) is checked here
too when the sweep does not vary the data (`experiment`, `data`, `data.*`); where it does, each
job checks its own (`run.config.check_config`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from experiments.errors import ExperimentError
from experiments.run import sweep_metric
from experiments.sweeps.plan import sweep_arguments

log = logging.getLogger(__name__)

DATA_KEYS = ("experiment", "data")


def _sweeps_the_data(config: DictConfig) -> bool:
    parsed = OverridesParser.create().parse_overrides(sweep_arguments(config))
    keys = (o.key_or_group.lstrip("+~") for o in parsed if o.is_sweep_override())
    return any(k.split(".")[0] in DATA_KEYS for k in keys)


def check_sweep(config: DictConfig) -> str:
    """The sweep's mode ('min' or 'max'), or an `ExperimentError` saying what to change."""
    summary = config.hydra.callbacks.get("sweep_summary") or {}
    metric = sweep_metric.check_name(summary.get("metric", config.get("optimized_metric")))
    mode = sweep_metric.sweep_mode(metric, summary.get("mode", "auto"))
    sweeper = config.hydra.sweeper
    if str(sweeper.get("_target_", "")).endswith("OptunaSweeper"):
        sweep_metric.check_optuna(sweeper.get("direction"), metric, mode)
    if not _sweeps_the_data(config):
        from experiments.data.checks import check_data  # pandas: only once the names are good

        try:
            task = check_data(config.data)
        except ExperimentError:  # bad data: each job reports it, and the summary lists them
            return mode
        sweep_metric.check_for_task(metric, task, config.get("compare") is True)
    return mode


class SweepMetricCheck(Callback):
    """Listed first under `hydra.callbacks`, so a refused sweep leaves nothing behind."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_sweep(config)
        except ExperimentError as err:
            log.error("%s", err)
            sys.exit(1)
