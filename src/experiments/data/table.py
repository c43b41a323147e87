"""Tiny tables written out in the config: XOR, AND, the linear map and the exam scores.

The lessons train and judge on the same handful of rows: validation and test are the table itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experiments.data.base import ArrayDataModule, Splits
from experiments.errors import ConfigError
from experiments.tasks import make_task


class TableDataModule(ArrayDataModule):
    """Rows `x` and targets `y` inline, as `x: [[0,0],[0,1],[1,0],[1,1]]`, `y: [0,1,1,0]`."""

    def __init__(
        self,
        x: Sequence[Sequence[float]],
        y: Sequence[float] | Sequence[Sequence[float]],
        task: str = "binary",
        target_scale: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.x = np.asarray(x, dtype=np.float64)
        y_arr = np.asarray(y, dtype=np.float64)
        self.y = y_arr.reshape(len(y_arr), -1)
        if self.x.ndim != 2 or len(self.x) != len(self.y) or len(self.x) == 0:
            raise ConfigError(
                f"data.x has shape {self.x.shape} and data.y {y_arr.shape}: "
                "give one row of x per target"
            )
        if task == "multiclass":  # y: class indices 0..K-1, named by their numbers
            classes = [str(k) for k in range(int(self.y.max()) + 1)]
            self.task = make_task(task, target_scale, classes=classes)
        else:
            self.task = make_task(task, target_scale)

    def load_splits(self) -> Splits:
        return Splits(self.x, self.y, self.x, self.y, self.x, self.y)
