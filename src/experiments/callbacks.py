"""Callbacks the configs name in `conf/callbacks/`."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


class StepProgressBar(TQDMProgressBar):
    """One bar counting optimizer steps towards `trainer.max_steps` (the epoch itself is endless).

    Validation and test are a single full batch, so they get no bar of their own: their metrics
    show in the training bar's postfix and in the final log line.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.reset(total=trainer.max_steps)
        self.train_progress_bar.set_description("Training")

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_test_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)
