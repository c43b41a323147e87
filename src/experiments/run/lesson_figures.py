"""`LessonFigures`, the callback `conf/callbacks/default.yaml` names `figures`: a run's pictures,
its loss curves over every attempt among them."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from experiments.atomic import write_atomic
from experiments.output.tensorboard import tensorboard_loggers
from experiments.run.checkpoint_step import scheduled_validation


def tensorboard_writer(trainer: L.Trainer):
    """The SummaryWriter of the run's (first) TensorBoard logger, else None."""
    loggers = tensorboard_loggers(trainer.loggers)
    return loggers[0].experiment if loggers else None


class LessonFigures(Callback):
    """Loss curves after training; after testing, the task's pictures (`Task.pictures`) and the
    data module's (`pictures`). Each is saved as `<run>/<name>.png` and shown in TensorBoard's
    Images tab.

    The curves are the run's whole history, across attempts: every checkpoint keeps the points
    so far (`state_dict`), so a resumed run (`ckpt_path`, or its folder's unfinished run) plots
    from step 0, not from the step it resumed at. The validation at the checkpoint's own step
    comes after the checkpoint is written; a resumed run evaluates the restored weights (those
    of that step) for it (`on_fit_start`, `run.checkpoint_step`)."""

    def __init__(self) -> None:
        self.train_loss: list[tuple[int, float]] = []
        self.val_loss: list[tuple[int, float]] = []
        self.resumed_at = 0  # the checkpoint's step, when the run resumes from one

    def state_dict(self) -> dict:
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss)}

    def load_state_dict(self, state: dict) -> None:
        self.train_loss = [(int(s), float(v)) for s, v in state.get("train_loss", [])]
        self.val_loss = [(int(s), float(v)) for s, v in state.get("val_loss", [])]

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        self.resumed_at = checkpoint["global_step"]

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        """A resumed run (its weights are the checkpoint's by now; its loops are not): the
        history up to the checkpoint's step, and that step's validation when the schedule holds
        it. Here, not when training starts: a run resumed at its last step trains no step."""
        step = self.resumed_at
        self.train_loss = [p for p in self.train_loss if p[0] <= step]
        self.val_loss = [p for p in self.val_loss if p[0] <= step]
        if step in {s for s, _ in self.val_loss}:
            return
        if (metrics := scheduled_validation(trainer, pl_module, step)) is not None:
            self.val_loss.append((step, float(metrics["val/loss"])))

    def curves(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """(train, validation) points, (step, loss) in step order: what `loss_curves` plots."""
        return sorted(self.train_loss), sorted(self.val_loss)

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
        if not trainer.is_global_zero:  # data-parallel: rank 0 draws
            return
        from experiments import figures

        curves = figures.loss_curves(*self.curves(), pl_module.hparams.loss)
        self._publish(trainer, "loss_curves", curves)

    def on_test_end(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        from experiments.run.conv_pictures import convnet_pictures
        from experiments.run.inference import predict_raw

        datamodule = trainer.datamodule
        task = datamodule.task
        splits = datamodule.splits

        def predict(rows):
            return predict_raw(pl_module, datamodule.scaler, task, rows)

        pictures = task.pictures(predict, splits.x_test, splits.y_test)
        pictures.update(datamodule.pictures(predict))  # the data's own (digits: misclassified)
        pictures.update(convnet_pictures(pl_module, datamodule.test_xy[0]))  # filters, maps
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
        path = Path(trainer.default_root_dir) / f"{name}.png"
        write_atomic(path, lambda f: Image.fromarray(pixels).save(f, format="PNG"))
        if (writer := tensorboard_writer(trainer)) is not None:
            writer.add_image(f"figures/{name}", pixels, trainer.global_step, dataformats="HWC")
