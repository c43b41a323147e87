"""What kind of prediction a table asks for, and everything that depends on it.

A `Task` is chosen by the data module (`data.task`, or the label column when `auto`) and read by
everything else: the models and the vectorized population evaluate with it (`evaluate`), the data
module and prediction convert targets with it (`targets`, `outputs`), prediction names its output
columns with it (`output_columns`), the figures callback asks it for its pictures (`pictures`),
and `experiment=table` takes the model keys it leaves at `auto` from it (`model_defaults`). It
travels in checkpoints, and in the model's hyperparameters, as plain values (`state_dict`).
Adding a task is adding one class (`base.Task`) and naming it in `TASKS`.

Metrics are in the data's own units (a regression's MAE in the label's units, whatever the
targets were scaled to for training). torch is imported inside the methods, so the config
checks can read `model_defaults` before torch is loaded.
"""

from __future__ import annotations

from typing import Any

from experiments.errors import ConfigError
from experiments.tasks.base import RawPredict, Task
from experiments.tasks.classification import BinaryTask, ClassificationTask, MulticlassTask
from experiments.tasks.regression import RegressionTask

__all__ = [
    "TASKS",
    "BinaryTask",
    "ClassificationTask",
    "MulticlassTask",
    "RawPredict",
    "RegressionTask",
    "Task",
    "make_task",
    "model_defaults",
    "task_from_state",
]

TASKS: dict[str, type[Task]] = {
    task.name: task for task in (BinaryTask, MulticlassTask, RegressionTask)
}


def task_from_state(state: dict[str, Any] | str) -> Task:
    """The task a checkpoint, a model's hyperparameters or a config's `data.task` names."""
    state = {"name": state} if isinstance(state, str) else dict(state)
    return TASKS[state.pop("name")](**state)


def make_task(name: str, target_scale: float = 1.0, **options: Any) -> Task:
    """The task `data.task` names, with `data.target_scale` where the task scales targets."""
    if name not in TASKS:
        raise ConfigError(f"data.task={name!r} is unknown: choose one of {', '.join(TASKS)}")
    if name == "regression":
        return RegressionTask(target_scale, **options)
    if target_scale != 1:
        raise ConfigError(f"data.target_scale={target_scale} applies to regression, not {name}")
    return TASKS[name](**options)


def model_defaults(model: Any, task: str | None) -> dict[str, str]:
    """The model keys set to `auto` (`experiment=table`), filled from the task's defaults."""
    if task not in TASKS:
        return {}
    return {k: v for k, v in TASKS[task].model_defaults.items() if model.get(k) == "auto"}
