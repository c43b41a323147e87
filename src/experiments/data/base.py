"""What every lesson data module shares: splits as tensors, a scaler fitted on training rows only,
an endless training stream and one full batch for validation and test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from experiments.data.batches import EndlessBatches
from experiments.errors import ConfigError

SCALINGS = ("none", "standard", "max")


@dataclass
class Splits:
    """Raw (unscaled) feature and target arrays of each split; targets are 2-D (rows, outputs)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def fit_scaler(x_train: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (offset, scale) with x_scaled = (x - offset) / scale, fitted on training rows."""
    n = x_train.shape[1]
    if scaling == "none":
        return np.zeros(n), np.ones(n)
    if scaling == "standard":
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(x_train)
        return scaler.mean_, scaler.scale_
    if scaling == "max":
        from sklearn.preprocessing import MaxAbsScaler

        scaler = MaxAbsScaler().fit(x_train)
        return np.zeros(n), scaler.scale_
    raise ConfigError(f"data.scaling={scaling!r} is unknown: choose one of {', '.join(SCALINGS)}")


class ArrayDataModule(L.LightningDataModule):
    """Subclasses implement `load_splits`; everything else is here.

    The fitted scaler (and target scale) is saved in checkpoints through `state_dict`, so
    prediction takes raw inputs and gives outputs in the data's own units.
    """

    task: str = "binary"

    def __init__(
        self,
        batch_size: int | None = None,
        replacement: bool = False,
        scaling: str = "none",
        target_scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise ConfigError(
                f"data.batch_size={batch_size} is not allowed: use a positive integer, "
                "or null for the full batch"
            )
        self.batch_size = batch_size
        self.replacement = replacement
        self.scaling = scaling
        self.target_scale = float(target_scale)
        self.seed = seed
        self.splits: Splits | None = None

    def load_splits(self) -> Splits:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.splits = self.load_splits()
        offset, scale = fit_scaler(self.splits.x_train, self.scaling)
        self.x_offset = torch.as_tensor(offset, dtype=torch.float32)
        self.x_scale = torch.as_tensor(scale, dtype=torch.float32)
        s = self.splits
        self.train_xy = (self.scale_inputs(s.x_train), self._targets(s.y_train))
        self.val_xy = (self.scale_inputs(s.x_val), self._targets(s.y_val))
        self.test_xy = (self.scale_inputs(s.x_test), self._targets(s.y_test))

    @property
    def n_features(self) -> int:
        return self.splits.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.splits.y_train.shape[1]

    def scale_inputs(self, x_raw: Any) -> Tensor:
        x = torch.as_tensor(np.asarray(x_raw, dtype=np.float64), dtype=torch.float32)
        return (x - self.x_offset) / self.x_scale

    def unscale_outputs(self, y: Tensor) -> Tensor:
        return y * self.target_scale if self.task == "regression" else y

    def _targets(self, y: np.ndarray) -> Tensor:
        y = torch.as_tensor(y, dtype=torch.float32)
        return y / self.target_scale if self.task == "regression" else y

    def train_dataloader(self) -> DataLoader:
        stream = EndlessBatches(*self.train_xy, self.batch_size, self.replacement, self.seed)
        return DataLoader(stream, batch_size=None, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self.val_xy], batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader([self.test_xy], batch_size=None)

    def state_dict(self) -> dict[str, Any]:
        return {
            "x_offset": self.x_offset.tolist(),
            "x_scale": self.x_scale.tolist(),
            "target_scale": self.target_scale,
            "task": self.task,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.x_offset = torch.tensor(state["x_offset"], dtype=torch.float32)
        self.x_scale = torch.tensor(state["x_scale"], dtype=torch.float32)
        self.target_scale = state["target_scale"]
