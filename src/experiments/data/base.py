"""What every lesson data module shares: raw splits, a scaler fitted on training rows only, an
endless training stream, and one full batch for validation and for test."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
from torch import Tensor
from torch.utils.data import DataLoader

from experiments.data.batches import EndlessBatches
from experiments.data.encoder import Encoder
from experiments.data.scaler import Scaler
from experiments.errors import ConfigError
from experiments.loop import chunking
from experiments.tasks import BinaryTask, RawPredict, Task, task_from_state

log = logging.getLogger(__name__)


@dataclass
class Splits:
    """Feature rows (encoded, unscaled) and raw targets of each split; targets are 2-D (rows,
    columns): 0/1 or a class index for classification, values for regression."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class ArrayDataModule(L.LightningDataModule):
    """Subclasses implement `load_splits` (and set `task`, and may set `feature_names` and
    `encoder`); the rest is here.

    The encoder, the fitted scaler and the task travel in checkpoints (`preprocessing_state`), so
    prediction takes raw rows and gives outputs in the data's own units.
    """

    def __init__(
        self,
        batch_size: int | None = None,
        replacement: bool = False,
        scaling: str = "none",
        seed: int = 0,
        chunk: int = 1,
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
        self.seed = seed
        self.chunk = chunk  # batches per Lightning batch: one update each (loop.chunking)
        self.task: Task = BinaryTask()
        self.splits: Splits | None = None
        self.scaler: Scaler | None = None
        self.encoder: Encoder | None = None
        self.feature_names: list[str] = []
        self.record_notes: dict[str, Any] = {}  # what metrics.json says about the data

    def load_splits(self) -> Splits:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.splits = self.load_splits()
        self.task.fit(self.splits.y_train)
        names = self.feature_names or [f"x{i}" for i in range(self.splits.x_train.shape[1])]
        self.scaler = self.fit_scaler(self.splits.x_train, names)
        self.encoder = self.encoder or Encoder.numeric(names)
        rows = len(self.splits.x_train)
        if self.batch_size is not None and self.batch_size >= rows > 1:
            log.info(
                "data.batch_size=%d is not below the %d training rows: every step takes the "
                "whole training split (full batch)",
                self.batch_size,
                rows,
            )

    def fit_scaler(self, x_train: np.ndarray, names: list[str]) -> Scaler:
        """The input scaling fitted on the training rows (`data.scaling`); images: per channel."""
        return Scaler.fit(x_train, self.scaling, names)

    # Scaled when asked for, so a scaler restored from a checkpoint applies.
    @property
    def train_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_train), self.task.targets(self.splits.y_train)

    @property
    def val_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_val), self.task.targets(self.splits.y_val)

    @property
    def test_xy(self) -> tuple[Tensor, Tensor]:
        return self.scaler.inputs(self.splits.x_test), self.task.targets(self.splits.y_test)

    @property
    def n_features(self) -> int:
        return self.splits.x_train.shape[1]

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(channels, height, width) when each row is an image's pixels (row-major, as
        `torch.nn.Unflatten` reads them), so a convnet can take it; `()` for a table."""
        return ()

    @property
    def n_outputs(self) -> int:
        return self.task.width(self.splits.y_train)

    def train_stream(self, seed: int | None = None) -> EndlessBatches:
        """One (x, y) per optimizer update, forever (drawn with `seed`, by default the data's
        own). Resuming at step k, it starts with the batch that step k+1 would have seen."""
        done = self.trainer.global_step if self.trainer is not None else 0
        seed = self.seed if seed is None else seed
        return EndlessBatches(*self.train_xy, self.batch_size, self.replacement, seed, skip=done)

    def train_dataloader(self) -> DataLoader:
        return chunking.chunked_loader(self.train_stream(), self.trainer, self.chunk)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self.val_xy], batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader([self.test_xy], batch_size=None)

    def pictures(self, predict: RawPredict) -> dict:
        """Pictures of the test split the data itself suggests (digits: the misclassified
        images), besides the task's; `predict` takes feature rows as in `splits`."""
        return {}

    def preprocessing_state(self) -> dict[str, Any]:
        """What prediction needs to take raw rows: plain values for the checkpoint."""
        return {
            "encoder": self.encoder.state_dict(),
            "scaler": self.scaler.state_dict(),
            "task": self.task.state_dict(),
        }

    def load_preprocessing_state(self, state: dict[str, Any]) -> None:
        self.scaler = Scaler.from_state(state["scaler"])
        self.task = task_from_state(state["task"])
        if "encoder" in state:
            self.encoder = Encoder.from_state(state["encoder"])
