"""What kind of prediction a table asks for, and everything that depends on it.

A `Task` is chosen by the data module and read by everything else: the models and the vectorized
population evaluate with it (`evaluate`), the data module and prediction scale targets with it
(`targets`, `outputs`), prediction names its output columns with it (`output_columns`), and the
figures callback asks it for its pictures (`pictures`). It travels in checkpoints as plain values
(`state_dict`). Adding a task is adding one class here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional import mean_absolute_error
from torchmetrics.functional.classification import binary_accuracy, binary_confusion_matrix

from experiments.errors import ConfigError

RawPredict = Callable[[Any], Tensor]  # raw input rows -> outputs in the data's own units


class Task:
    """Base: subclasses set `name` and `metric` and implement the methods below."""

    name: ClassVar[str]
    metric: ClassVar[str]  # the headline metric of every stage: `val/<metric>`, `test/<metric>`
    scales_targets: ClassVar[bool] = False

    def targets(self, y_raw: Any) -> Tensor:
        """Targets in the units the model trains on."""
        return torch.as_tensor(np.asarray(y_raw, dtype=np.float64), dtype=torch.float32)

    def outputs(self, y_model: Tensor) -> Tensor:
        """Model outputs back in the data's own units."""
        return y_model

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """The stage's metrics (besides its loss) on a whole split."""
        raise NotImplementedError

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """The prediction table's columns, from outputs in the data's own units."""
        raise NotImplementedError

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        """Named matplotlib figures of the test split."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}


class BinaryTask(Task):
    """One output: the probability of class 1; accuracy, confusion counts, majority baseline."""

    name = "binary"
    metric = "acc"

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        labels = y.long()
        metrics = {f"{stage}/acc": binary_accuracy(pred, labels)}
        if stage == "test":
            rate = y.float().mean()
            metrics["test/baseline_acc"] = torch.maximum(rate, 1 - rate)
            # rows: true 0, 1; columns: predicted 0, 1
            (tn, fp), (fn, tp) = binary_confusion_matrix(pred, labels).float()
            metrics.update({"test/tn": tn, "test/fp": fp, "test/fn": fn, "test/tp": tp})
        return metrics

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return {"probability": outputs[:, 0], "predicted": (outputs[:, 0] > 0.5).astype(int)}

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        from experiments import figures

        y = self.targets(y_raw)
        shown = {"confusion_matrix": figures.confusion_matrix(predict(x_raw), y)}
        if x_raw.shape[1] == 2:
            points = torch.as_tensor(x_raw, dtype=torch.float32)
            shown["decision_boundary"] = figures.decision_boundary(predict, points, y)
        return shown


class RegressionTask(Task):
    """Real-valued outputs, trained on y / `target_scale`; mean absolute error."""

    name = "regression"
    metric = "mae"
    scales_targets = True

    def __init__(self, target_scale: float = 1.0) -> None:
        self.target_scale = float(target_scale)

    def targets(self, y_raw: Any) -> Tensor:
        return super().targets(y_raw) / self.target_scale

    def outputs(self, y_model: Tensor) -> Tensor:
        return y_model * self.target_scale

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        return {f"{stage}/mae": mean_absolute_error(pred, y)}

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        return {f"prediction_{j}": outputs[:, j] for j in range(outputs.shape[1])}

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        from experiments import figures

        truth = super().targets(y_raw)
        return {"predictions_vs_targets": figures.predictions_vs_targets(predict(x_raw), truth)}

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "target_scale": self.target_scale}


TASKS: dict[str, type[Task]] = {task.name: task for task in (BinaryTask, RegressionTask)}


def task_from_state(state: dict[str, Any]) -> Task:
    """The task a checkpoint (or a config's `data.task`) names."""
    state = dict(state)
    return TASKS[state.pop("name")](**state)


def make_task(name: str, target_scale: float = 1.0) -> Task:
    """The task `data.task` names, with `data.target_scale` where the task scales targets."""
    if name not in TASKS:
        raise ConfigError(f"data.task={name!r} is unknown: choose one of {', '.join(TASKS)}")
    if TASKS[name].scales_targets:
        return TASKS[name](target_scale)
    if target_scale != 1:
        raise ConfigError(f"data.target_scale={target_scale} applies to regression, not {name}")
    return TASKS[name]()
