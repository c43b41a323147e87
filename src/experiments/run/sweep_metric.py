"""`optimized_metric`: what a sweep chooses by, and which way is better.

It must be a training or validation metric a run logs: `train/loss`, `val/loss` and the task's own
`val/<metric>` (`val/acc` for classification, `val/mae` for regression); a `test/` metric is
refused, since choosing on the test split makes its score optimistic. The direction follows the
metric's name (loss, mae, rmse, mse lower is better; acc, f1, r2, auroc higher) unless
`hydra.callbacks.sweep_summary.mode` says `min` or `max`; Optuna's `hydra.sweeper.direction`
follows the same rule (`optuna_direction`, a config resolver) and must agree with it.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from experiments.errors import ConfigError
from experiments.tasks import TASKS

LOWER = ("loss", "mae", "rmse", "mse", "error")
HIGHER = ("acc", "accuracy", "f1", "r2", "auroc", "auc", "precision", "recall")
MODES = ("auto", "min", "max")
STAGES = ("train", "val")
OPTUNA = {"min": "minimize", "max": "maximize"}


def better(metric: str) -> str | None:
    """'min' or 'max' by the metric's name (`val/f1_macro` -> max), None when it does not say."""
    words = metric.rpartition("/")[2].lower().split("_")
    if any(w in LOWER for w in words):
        return "min"
    if any(w in HIGHER for w in words):
        return "max"
    return None


def logged(task: str | None, compare: bool = False) -> list[str]:
    """The training and validation metrics a run of `task` logs (every task's when None)."""
    tasks = [TASKS[task]] if task in TASKS else list(TASKS.values())
    names = ["train/loss", "val/loss", *dict.fromkeys(f"val/{t.metric}" for t in tasks)]
    return [*names, "train/loss_autograd"] if compare else names


def _choices() -> str:
    tasks: dict[str, list[str]] = {}
    for task in TASKS.values():
        tasks.setdefault(task.metric, []).append(task.name)
    by_task = ", ".join(f"val/{m} ({' or '.join(names)})" for m, names in tasks.items())
    return f"val/loss, {by_task} or train/loss"


def check_name(metric: object) -> str:
    """`metric` as a name any run can log; a `ConfigError` for a test metric or an unknown one."""
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"optimized_metric={metric!r} is not a metric name: use {_choices()}")
    stage, _, name = metric.partition("/")
    if stage == "test":
        raise ConfigError(
            f"optimized_metric={metric} is a test metric: choosing on the test split makes its "
            f"score optimistic; choose on validation, e.g. optimized_metric=val/{name}"
        )
    if metric not in logged(None, compare=True):
        raise ConfigError(f"optimized_metric={metric} is not a metric a run logs: use {_choices()}")
    return metric


def check_for_task(metric: object, task: str | None, compare: bool = False) -> None:
    """`metric` is logged by a run of `task` (the data's task, None if unknown)."""
    check_name(metric)
    if task in TASKS and metric not in (names := logged(task, compare)):
        raise ConfigError(
            f"optimized_metric={metric} is not logged by a {task} run: use one of "
            f"{', '.join(names)}"
        )


def sweep_mode(metric: str, mode: object = "auto") -> str:
    """'min' or 'max': `mode` when it says, else the metric's own direction."""
    if mode not in MODES:
        raise ConfigError(
            f"hydra.callbacks.sweep_summary.mode={mode!r} is unknown: choose one of "
            f"{', '.join(MODES)} (auto: by the metric's name)"
        )
    if mode != "auto":
        return str(mode)
    if (found := better(metric)) is None:
        raise ConfigError(
            f"whether {metric} is better lower or higher is not known from its name: "
            "set hydra.callbacks.sweep_summary.mode=min or mode=max"
        )
    return found


def check_optuna(direction: object, metric: str, mode: str) -> None:
    """Optuna's `direction` agrees with the sweep's `mode` ('min' or 'max')."""
    name = getattr(direction, "name", direction)  # Optuna's enum, or its name as typed
    if name != OPTUNA[mode]:
        raise ConfigError(
            f"hydra.sweeper.direction={name} but the sweep picks the {mode} of {metric}: "
            f"use hydra.sweeper.direction={OPTUNA[mode]}, or leave it out (it follows "
            "optimized_metric)"
        )


def optuna_direction(metric: str, mode: str = "auto") -> str:
    """Resolver `${optuna_direction:${optimized_metric},MODE}`: minimize or maximize."""
    try:
        return OPTUNA[sweep_mode(str(metric), mode)]
    except ConfigError:
        return "minimize"  # the multirun start refuses this config with the reason


def register() -> None:
    if not OmegaConf.has_resolver("optuna_direction"):
        OmegaConf.register_new_resolver("optuna_direction", optuna_direction)
