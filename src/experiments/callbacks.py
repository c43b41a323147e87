"""Callbacks the configs name in `conf/callbacks/`."""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.loggers import TensorBoardLogger


class StepProgressBar(TQDMProgressBar):
    """One bar counting optimizer steps towards `trainer.max_steps` (the epoch itself is endless).

    Validation and test are a single full batch, so they get no bar of their own: their metrics
    show in the training bar's postfix and in the final log line.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.reset(total=trainer.max_steps)
        self.train_progress_bar.set_description("Training")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Counted in optimizer steps, not batches: a batch holds several updates.
        bar, step = self.train_progress_bar, trainer.global_step
        if self.is_enabled and (step - bar.n >= self.refresh_rate or step == bar.total):
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes the bar

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_test_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)


def _tensorboard(trainer: L.Trainer):
    """The SummaryWriter when the run logs to TensorBoard, else None."""
    return trainer.logger.experiment if isinstance(trainer.logger, TensorBoardLogger) else None


class LessonFigures(Callback):
    """Loss curves after training; after testing, the task's pictures (`Task.pictures`). Each is
    saved as `<run>/<name>.png` and shown in TensorBoard's Images tab."""

    def __init__(self) -> None:
        self.train_loss: list[tuple[int, float]] = []
        self.val_loss: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        every = trainer.log_every_n_steps
        if every and (batch_idx + 1) % every == 0 and "train/loss" in trainer.callback_metrics:
            self.train_loss.append(
                (trainer.global_step, float(trainer.callback_metrics["train/loss"]))
            )

    def on_validation_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and "val/loss" in trainer.callback_metrics:
            self.val_loss.append((trainer.global_step, float(trainer.callback_metrics["val/loss"])))

    def on_fit_end(self, trainer: L.Trainer, pl_module) -> None:
        from experiments import figures

        curves = figures.loss_curves(self.train_loss, self.val_loss, pl_module.hparams.loss)
        self._publish(trainer, "loss_curves", curves)

    def on_test_end(self, trainer: L.Trainer, pl_module) -> None:
        from experiments.inference import predict_raw

        datamodule = trainer.datamodule
        task = datamodule.task
        splits = datamodule.splits
        pictures = task.pictures(
            lambda rows: predict_raw(pl_module, datamodule.scaler, task, rows),
            splits.x_test,
            splits.y_test,
        )
        for name, fig in pictures.items():
            self._publish(trainer, name, fig)

    @staticmethod
    def _publish(trainer: L.Trainer, name: str, fig) -> None:
        """Render once; the same pixels go to the PNG file and to TensorBoard."""
        import matplotlib.pyplot as plt
        import numpy as np
        from PIL import Image

        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        plt.close(fig)
        Image.fromarray(pixels).save(Path(trainer.default_root_dir) / f"{name}.png")
        if (writer := _tensorboard(trainer)) is not None:
            writer.add_image(f"figures/{name}", pixels, trainer.global_step, dataformats="HWC")


class ParameterHistograms(Callback):
    """Weights and gradients of every layer, as TensorBoard histograms, every N steps.

    `on_before_optimizer_step` runs for both models (Lightning calls it around the hand-written
    backward too), when the gradients of this step are in `.grad` and not yet applied.
    """

    def __init__(self, every_n_steps: int = 10) -> None:
        self.every_n_steps = max(1, every_n_steps)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module, optimizer) -> None:
        step = trainer.global_step
        if step % self.every_n_steps or (writer := _tensorboard(trainer)) is None:
            return
        for name, param in pl_module.net.named_parameters():
            writer.add_histogram(f"weights/{name}", param.detach(), step)
            if param.grad is not None:
                writer.add_histogram(f"gradients/{name}", param.grad, step)


class GracefulInterrupt(Callback):
    """Ctrl+C (SIGINT) or SIGTERM during training: finish the current step, write
    `checkpoints/last.ckpt` at that step, and stop. `train()` then records `interrupted`.

    Both signals only set a flag: the checkpoint is taken between two steps, never in the middle
    of an update, so resuming from it reproduces the uninterrupted run exactly.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: str | None = None
        self.checkpoint: Path | None = None
        self._previous: dict = {}

    def _request_stop(self, signum: int, frame) -> None:
        self.received = signal.Signals(signum).name

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self._previous = {s: signal.signal(s, self._request_stop) for s in self.SIGNALS}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.received and not trainer.should_stop:
            self.checkpoint = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
            trainer.save_checkpoint(self.checkpoint)
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
