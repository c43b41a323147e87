"""A callback that copies its run's folder as the disk holds it at a moment of a step: what a
kill -9 there would leave (`+callbacks.snapshot._target_=helpers.snapshots.DiskSnapshot`)."""

from __future__ import annotations

import shutil

from lightning.pytorch.callbacks import Checkpoint


class DiskSnapshot(Checkpoint):
    """Copy the run's folder to `folder` once, at the first `step` or past it: just after that
    step's checkpoint is written (`after="checkpoint"`), or after its validation once the
    TensorBoard writer has flushed, as it does by itself now and then (`after="validation"`).
    What a writer holds in memory is not in the copy, as it would not be on the disk of a process
    killed there. A `Checkpoint`, so that Lightning runs it after the ModelCheckpoint."""

    def __init__(self, step: int, folder: str, after: str = "checkpoint") -> None:
        self.step, self.folder, self.after, self.taken = step, folder, after, False

    def on_train_batch_end(self, trainer, *args) -> None:
        if self.after == "checkpoint":
            self._take(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.after == "validation" and trainer.state.fn == "fit":
            for logger in trainer.loggers:
                logger.experiment.flush()
            self._take(trainer)

    def _take(self, trainer) -> None:
        if trainer.global_step >= self.step and not self.taken:
            self.taken = True
            shutil.copytree(trainer.default_root_dir, self.folder)
