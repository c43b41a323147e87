"""What every lesson data module shares: raw splits, a scaler fitted on training rows only, an
endless training stream, and one full batch for validation and for test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
from torch import Tensor
from torch.utils.data import DataLoader

from experiments.data.batches import Chunks, EndlessBatches
from experiments.data.scaler import Scaler
from experiments.errors import ConfigError


@dataclass
class Splits:
    """Raw (unscaled) feature and target arrays of each split; targets are 2-D (rows, outputs)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class ArrayDataModule(L.LightningDataModule):
    """Subclasses implement `load_splits` (and may set `feature_names`); the rest is here.

    The fitted scaler is saved in checkpoints through `state_dict`, so prediction takes raw
    inputs and gives outputs in the data's own units.
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
        self.target_scale = target_scale
        self.seed = seed
        self.splits: Splits | None = None
        self.scaler: Scaler | None = None
        self.feature_names: list[str] = []
        # Optimizer updates per Lightning batch; train() sets it (experiments.config).
        self.updates_per_batch = 1

    def load_splits(self) -> Splits:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.splits = self.load_splits()
        names = self.feature_names or [f"x{i}" for i in range(self.splits.x_train.shape[1])]
        self.scaler = Scaler.fit(
            self.splits.x_train, self.scaling, self.target_scale, self.task, names
        )

    # Scaled when asked for, so a scaler restored from a checkpoint applies.
    @property
    def train_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_train), self.scaler.targets(self.splits.y_train)

    @property
    def val_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_val), self.scaler.targets(self.splits.y_val)

    @property
    def test_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_test), self.scaler.targets(self.splits.y_test)

    @property
    def n_features(self) -> int:
        return self.splits.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.splits.y_train.shape[1]

    def train_stream(self) -> EndlessBatches:
        """One (x, y) per optimizer update, forever. Resuming at step k, it starts with the batch
        that step k+1 would have seen uninterrupted."""
        done = self.trainer.global_step if self.trainer is not None else 0
        return EndlessBatches(
            *self.train_xy, self.batch_size, self.replacement, self.seed, skip=done
        )

    def train_dataloader(self) -> DataLoader:
        chunks = Chunks(self.train_stream(), self.updates_per_batch)
        return DataLoader(chunks, batch_size=None, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self.val_xy], batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader([self.test_xy], batch_size=None)

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scaler = Scaler.from_state(state)
