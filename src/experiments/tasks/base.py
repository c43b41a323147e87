"""The `Task` interface, and the small conversions its kinds share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor


RawPredict = Callable[[Any], "Tensor"]  # feature rows -> outputs in the data's own units


def _as_float_tensor(values: Any) -> Tensor:
    import torch

    return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=torch.float32)


def _label_values(names: list[str]) -> np.ndarray:
    """Class names as the predicted column shows them: numbers stay numbers (0/1), text text."""
    try:
        numbers = np.asarray([float(n) for n in names])
    except ValueError:
        return np.asarray(names, dtype=object)
    return numbers.astype(int) if np.all(numbers == np.round(numbers)) else numbers


class Task:
    """Base: subclasses set `name`, `metric` and `model_defaults` and implement the methods."""

    name: ClassVar[str]
    metric: ClassVar[str]  # the headline metric of every stage: `val/<metric>`, `test/<metric>`
    # The model keys `experiment=table` leaves at `auto`: the output layer and loss of the task.
    model_defaults: ClassVar[dict[str, str]]

    def fit(self, y_train: np.ndarray) -> None:
        """Learn what the task needs from the training targets (raw, rows x columns)."""

    def width(self, y_raw: np.ndarray) -> int:
        """Output units of the network."""
        return y_raw.shape[1]

    def targets(self, y_raw: Any) -> Tensor:
        """Targets in the units the model trains on."""
        return _as_float_tensor(y_raw)

    def outputs(self, y_model: Tensor) -> Tensor:
        """Model outputs back in the data's own units."""
        return y_model

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """The stage's metrics (besides its loss) on a whole split: 0-dim tensors are logged,
        others (a confusion matrix) go to metrics.json as nested lists."""
        raise NotImplementedError

    def evaluate_members(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """`evaluate` for a vectorized population: pred (members, rows, outputs), one value (or
        table) per member stacked on dim 0. A task overrides it with one batched computation
        where that matters (validation runs at every member's every validation step)."""
        import torch

        per_member = [self.evaluate(stage, p, y) for p in pred]
        return {k: torch.stack([m[k] for m in per_member]) for k in per_member[0]}

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """The prediction table's columns, from outputs in the data's own units."""
        raise NotImplementedError

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        """Named matplotlib figures of the test split."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}
