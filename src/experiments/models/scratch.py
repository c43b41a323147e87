"""`model=scratch`: every gradient by the chain rule, layer by layer; no autograd."""

from __future__ import annotations

import torch
from torch import Tensor

from experiments.core.conv import Conv2d, Flatten
from experiments.core.convnet import ConvLayers, ImageSequential, Unflatten
from experiments.core.layers import Sequential
from experiments.core.losses import LOSSES
from experiments.core.network import build_network
from experiments.core.optimizers import HandWrittenOptimizer, optimizer_for
from experiments.core.pooling import AvgPool2d, MaxPool2d
from experiments.loop import data_parallel
from experiments.models.base import LessonModule
from experiments.models.run_layers import ACTIVATIONS, Linear


def _conv(fan_in: int, fan_out: int, kernel: int, stride: int, padding: int, bias: bool) -> Conv2d:
    # Conv2d draws its own initial weights; the build draws them again, as for model=mlp.
    with torch.random.fork_rng(devices=[]):
        return Conv2d(fan_in, fan_out, kernel, stride, padding, bias)


CONV_LAYERS = ConvLayers(
    Unflatten, _conv, {"max": MaxPool2d, "avg": AvgPool2d}, Flatten, ImageSequential
)


class ScratchModule(LessonModule):
    """Forward, loss, hand-written backward, then `optimizer.step()`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = build_network(self.arch, Linear, ACTIVATIONS, Sequential, conv=CONV_LAYERS)
        self.loss_fn = LOSSES[self.arch.loss]()

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net.forward(x)

    def training_step(self, batches, batch_idx: int) -> None:
        # Every gradient here is by hand: a chunk of updates without autograd's bookkeeping.
        with torch.no_grad():
            super().training_step(batches, batch_idx)

    def configure_optimizers(self) -> HandWrittenOptimizer:
        return optimizer_for(self.arch, self.parameters())

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.loss_fn.forward(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor, weight: float = 1.0) -> Tensor:
        with torch.no_grad():
            loss = self.loss_fn.forward(self.net.forward(x), y)
            grad = self.loss_fn.backward()
            self.net.backward(grad if weight == 1 else grad * weight)
        return loss if weight == 1 else loss * weight

    def average_gradients(self) -> None:
        data_parallel.average_gradients(self.parameters(), self.trainer.world_size)
