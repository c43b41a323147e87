"""What both lesson models share: the architecture keys, the update loop, evaluation, logging."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from omegaconf import OmegaConf
from torch import Tensor

from experiments.architecture import Architecture
from experiments.errors import DivergedError
from experiments.loop import chunking, data_parallel
from experiments.tasks import task_from_state


def first_nonfinite(losses: Tensor) -> Tensor:
    """Per column of `losses` (steps, ...): the index of the first non-finite step, or -1."""
    bad = ~torch.isfinite(losses)
    steps = torch.arange(len(losses), device=losses.device).view(-1, *[1] * (losses.dim() - 1))
    first = torch.where(bad, steps, len(losses)).amin(dim=0)
    return torch.where(first == len(losses), -1, first)


class LessonModule(L.LightningModule):
    """Base of `ScratchModule` and `MLPModule`: subclasses build `self.net`, define the loss and
    `loss_and_gradients` (the vectorized sweeper stacks members: `sweeps.population.stacks`)."""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        task: str | dict[str, Any] = "binary",
        chunk: int = 1,
        **keys: Any,
    ) -> None:
        super().__init__()
        if OmegaConf.is_config(task):  # Hydra's instantiate hands a dict over as a DictConfig
            task = OmegaConf.to_container(task)
        self.arch = Architecture.from_config(keys, n_inputs, n_outputs)
        # Kept in the checkpoint (plain values: it loads with weights_only=True) so predict
        # rebuilds the network; TensorBoard gets the run's HParams at its end (training.py).
        self.save_hyperparameters({"task": task, **self.arch.init_args()}, logger=False)
        self.task = task_from_state(task)  # a name, or the data's task state (plain values)
        # Metrics that are not one number (a K x K confusion matrix): for metrics.json only.
        self.tables: dict[str, list] = {}
        self.automatic_optimization = False  # several updates per Lightning batch: chunking.py
        self.chunk = chunk  # updates per Lightning batch (the data module's chunks hold as many)

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def loss_and_gradients(self, x: Tensor, y: Tensor, weight: float = 1.0) -> Tensor:
        """`weight` x the loss on (x, y), with every parameter's `.grad` set to its gradient."""
        raise NotImplementedError

    def average_gradients(self) -> None:
        """Data-parallel: `.grad` averaged over the ranks before the update. DDP does it for
        autograd's gradients during `backward`; the scratch model does it by hand."""

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def infer(self, x: Tensor) -> Tensor:
        """Outputs for model-scale inputs from anywhere (a CPU tensor, float32): moved to the
        model's device and dtype, no gradient, returned on the CPU."""
        weight = next(self.parameters())
        with torch.no_grad():
            return self(x.to(weight.device, weight.dtype)).cpu()

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        """One update per (x, y) of the chunk, each counted by `global_step` (see
        `chunking.step`); then `train/loss` of the last one, every `log_every_n_steps` batches."""
        optimizer, start = self.optimizers(), self.global_step
        world = self.trainer.world_size
        losses = []
        for i, (x, y) in enumerate(batches):
            if world > 1:  # this rank's share of the global batch (data_parallel.py)
                x, y, weight = data_parallel.shard(x, y, self.global_rank, world)
                losses.append(self.loss_and_gradients(x, y, weight))
                self.average_gradients()
            else:
                losses.append(self.loss_and_gradients(x, y))
            chunking.step(self.trainer, optimizer, i)
        losses = torch.stack(losses)
        if world > 1:  # the global batch's loss: the mean of the ranks' weighted losses
            losses = self.trainer.strategy.reduce(losses, reduce_op="mean")
        # Checked once a chunk (one read-back: on a GPU a check per update would wait each
        # time); nothing is saved from inside a chunk.
        if (first := int(first_nonfinite(losses))) >= 0:
            raise DivergedError(step=start + first, loss=float(losses[first]))
        every = self.trainer.log_every_n_steps
        if every > 0 and (batch_idx + 1) % every == 0:
            self.log_training({"train/loss": losses[-1]}, shown=("train/loss",))

    def log_training(self, metrics: dict[str, Tensor], shown: tuple[str, ...] = ()) -> None:
        """Training scalars at the optimizer step: to the progress bar and the callbacks through
        `self.log`, and to the loggers now. Lightning hands a batch's logs to the loggers only
        after its `on_train_batch_end`, where the periodic checkpoint is written: a run killed in
        between would lose its checkpoint step's point for good, since the resumed run starts
        after it. The values are already the global batch's (`training_step` reduces them); those
        named in `shown` go to the progress bar too."""
        for on_bar in (True, False):
            if part := {k: v for k, v in metrics.items() if (k in shown) == on_bar}:
                self.log_dict(part, logger=False, prog_bar=on_bar)
        if self.trainer.is_global_zero and self.loggers:
            values = {name: float(value) for name, value in metrics.items()}
            for logger in self.loggers:
                logger.log_metrics(values, step=self.global_step)
                logger.save()  # as Lightning does after it logs: TensorBoard flushes, CSV writes

    def log_at_step(self, metrics: dict[str, Tensor], **kwargs) -> None:
        """`self.log` with the optimizer step as TensorBoard's x-axis: Lightning's default is its
        batch count, and a batch holds several updates."""
        parallel = self._trainer is not None and self.trainer.world_size > 1
        step = torch.tensor(float(self.global_step))  # one `log_dict`: each call costs ~0.5 ms
        self.log_dict({**metrics, "step": step}, sync_dist=parallel, **kwargs)

    def evaluate(self, stage: str, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """The loss and the task's metrics on a whole split."""
        pred = self(x)
        return {f"{stage}/loss": self.compute_loss(pred, y), **self.task.evaluate(stage, pred, y)}

    def log_evaluation(self, metrics: dict[str, Tensor], **kwargs) -> None:
        """Numbers to Lightning's loggers; tables (non-scalar tensors) kept for metrics.json."""
        self.log_at_step({k: v for k, v in metrics.items() if v.dim() == 0}, **kwargs)
        self.tables.update({k: v.tolist() for k, v in metrics.items() if v.dim() > 0})

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log_evaluation(self.evaluate("val", *batch), prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log_evaluation(self.evaluate("test", *batch))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Before Lightning restores its loops: the checkpoint's batch counters recounted in this
        run's chunk (they were counted in the chunk of the run that saved it)."""
        chunking.recount_batches(checkpoint, self.chunk)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """What predict needs besides the weights: the model class, the scaler and the task."""
        datamodule = self.trainer.datamodule
        checkpoint["experiments"] = {
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "data": datamodule.preprocessing_state() if datamodule is not None else None,
        }

    def predict_step(self, batch: Tensor | tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x)
