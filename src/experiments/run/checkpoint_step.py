"""The checkpoint's own step, in a run resumed from it.

Lightning validates a step after that step's batch has ended, and the periodic checkpoint is
written when the batch ends: the validation scheduled at a checkpoint's step comes after the
checkpoint. A run stopped or killed in between and resumed from it trains on from the next step,
so nothing would ever validate that step again. The resumed run evaluates the restored weights
(that step's) instead: for TensorBoard when its event files lack the step (`ResumedValidation`),
and for the loss curves (`LessonFigures`).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from experiments.output.tensorboard import scalar_steps, tensorboard_loggers


def scheduled_validation(trainer: L.Trainer, pl_module, step: int) -> dict[str, Tensor] | None:
    """The validation metrics of the module's weights, taken as those of `step`, when the
    schedule validates at `step` (every `val_check_interval` batches of `chunk` updates); else
    None. Evaluated as Lightning validates: eval mode, the precision's validation context."""
    if not validated_at(trainer, pl_module, step):
        return None
    x, y = trainer.datamodule.val_xy
    weight = next(pl_module.parameters())
    was_training = pl_module.training
    pl_module.eval()
    try:
        with torch.no_grad(), trainer.precision_plugin.val_step_context():
            return pl_module.evaluate("val", x.to(weight), y.to(weight))
    finally:
        pl_module.train(was_training)


def validated_at(trainer: L.Trainer, pl_module, step: int) -> bool:
    """Whether the schedule validates at `step`."""
    every = trainer.val_check_interval * getattr(pl_module, "chunk", 1)
    return bool(step) and isinstance(every, int) and step % every == 0


class ResumedValidation(Callback):
    """A resumed run's TensorBoard gets the validation at the checkpoint's step when the earlier
    attempt did not write it (it stopped, or was killed, after the checkpoint and before that
    validation reached the disk), so every scheduled validation shows, once."""

    def __init__(self) -> None:
        self.step = 0

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        self.step = checkpoint["global_step"]

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        """Before any training step: the weights are the checkpoint's by now. Each validation
        metric is written where the event files lack it at that step (an attempt killed while
        writing may have left some of them)."""
        loggers = tensorboard_loggers(trainer.loggers) if trainer.is_global_zero else []
        if not loggers or (metrics := scheduled_validation(trainer, pl_module, self.step)) is None:
            return
        values = {name: float(value) for name, value in metrics.items() if value.dim() == 0}
        for logger in loggers:
            shown = scalar_steps(Path(logger.log_dir))
            lacking = {n: v for n, v in values.items() if self.step not in shown.get(n, ())}
            if lacking:
                logger.log_metrics(lacking, step=self.step)
