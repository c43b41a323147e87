"""What both lesson models share: architecture keys, SGD, evaluation, metrics and logging."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanMetric
from torchmetrics.classification import BinaryAccuracy, BinaryConfusionMatrix

from experiments.checkpoints import recount_batches
from experiments.errors import DivergedError
from experiments.models.architecture import Architecture


class LessonModule(L.LightningModule):
    """Base of `ScratchModule` and `MLPModule`: subclasses build `self.net` and define the loss."""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        task: str,
        hidden: Sequence[int] = (),
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        bias: bool = True,
        init: str = "default",
        init_std: float = 1.0,
        loss: str = "mse",
        lr: float = 0.1,
    ) -> None:
        super().__init__()
        # Kept in the checkpoint so predict rebuilds the network; sent to TensorBoard at the end
        # of the run together with the final metrics (see training.py), not here. `hidden` as
        # plain ints, not a ListConfig, so checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["hidden"], logger=False)
        self.hparams.hidden = [int(h) for h in hidden]
        self.arch = Architecture(
            n_inputs, n_outputs, tuple(hidden), activation, output_activation, bias, init, init_std
        )
        self.task = task
        if task == "binary":
            self.val_metric, self.test_metric = BinaryAccuracy(), BinaryAccuracy()
            self.metric_name = "acc"
            self.test_positive_rate = MeanMetric()
            self.test_confusion = BinaryConfusionMatrix()
        else:
            self.val_metric, self.test_metric = MeanAbsoluteError(), MeanAbsoluteError()
            self.metric_name = "mae"

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def infer(self, x: Tensor) -> Tensor:
        """Outputs for model-scale inputs from anywhere (a CPU tensor, float32): moved to the
        model's device and dtype, no gradient, returned on the CPU."""
        weight = next(self.parameters())
        with torch.no_grad():
            return self(x.to(weight.device, weight.dtype)).cpu()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def loss_and_gradients(self, x: Tensor, y: Tensor) -> Tensor:
        """The loss on (x, y), with every parameter's `.grad` set to its gradient."""
        raise NotImplementedError

    def update(self, x: Tensor, y: Tensor, optimizer) -> Tensor:
        """One optimizer update on (x, y); returns the loss before it. The step goes through the
        Lightning-wrapped optimizer, so `global_step` counts updates exactly."""
        loss = self.loss_and_gradients(x, y)
        optimizer.step()
        return loss

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        """One update per (x, y) of the chunk (see `experiments.data.batches.Chunks`), then
        `train/loss` of the last update, every `log_every_n_steps` batches."""
        optimizer, start = self.optimizers(), self.global_step
        losses = torch.stack([self.update(x, y, optimizer) for x, y in batches])
        self.stop_if_diverged(losses, start)
        every = self.trainer.log_every_n_steps
        if every > 0 and (batch_idx + 1) % every == 0:
            self.log_at_step({"train/loss": losses[-1]}, prog_bar=True)

    @staticmethod
    def stop_if_diverged(losses: Tensor, start: int) -> None:
        """Raise `DivergedError` naming the first update whose loss is not finite. Checked once a
        chunk (one read-back: on a GPU, a check per update would wait for the device each time);
        the chunk's weights are never saved, as no checkpoint is taken inside a batch."""
        finite = torch.isfinite(losses)
        if not finite.all():
            first = int((~finite).nonzero()[0])
            raise DivergedError(step=start + first, loss=float(losses[first]))

    def log_at_step(self, metrics: dict[str, Tensor], **kwargs) -> None:
        """`self.log` with the optimizer step as TensorBoard's x-axis: Lightning's default is its
        batch count, and a batch holds several updates."""
        self.log_dict(metrics, **kwargs)
        self.log("step", float(self.global_step))

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metric)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        pred = self._evaluate(batch, "test", self.test_metric)
        if self.task == "binary":
            self.test_positive_rate.update(batch[1])
            self.test_confusion.update(pred, batch[1].long())

    def on_test_epoch_end(self) -> None:
        if self.task != "binary":
            return
        rate = self.test_positive_rate.compute()
        self.log("test/baseline_acc", torch.maximum(rate, 1 - rate))
        # rows: true 0, 1; columns: predicted 0, 1
        (tn, fp), (fn, tp) = self.test_confusion.compute().tolist()
        self.log_dict({"test/tn": tn, "test/fp": fp, "test/fn": fn, "test/tp": tp})
        self.test_positive_rate.reset()
        self.test_confusion.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """What predict needs besides the weights: the model class and the fitted scaler."""
        datamodule = self.trainer.datamodule
        checkpoint["experiments"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "data": datamodule.state_dict() if datamodule is not None else None,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Resuming with another chunk size (a longer run has longer intervals): Lightning's batch
        counters are re-expressed in the new size, so validation still falls on exact steps."""
        if self._trainer is not None and self.trainer.datamodule is not None:
            recount_batches(checkpoint, self.trainer.datamodule.updates_per_batch)

    def predict_step(self, batch: Tensor | tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x)

    def _evaluate(self, batch: tuple[Tensor, Tensor], stage: str, metric) -> Tensor:
        x, y = batch
        pred = self(x)
        metric.update(pred, y.long() if self.task == "binary" else y)
        self.log_at_step(
            {f"{stage}/loss": self.compute_loss(pred, y), f"{stage}/{self.metric_name}": metric},
            prog_bar=stage == "val",
        )
        return pred
