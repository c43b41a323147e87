"""`model=scratch`: every gradient by the chain rule, layer by layer; no autograd."""

from __future__ import annotations

import torch
from torch import Tensor

from experiments.models.architecture import build_network
from experiments.models.base import LessonModule
from experiments.models.scratch_layers import ACTIVATIONS, LOSSES, Linear, Sequential


class ScratchModule(LessonModule):
    """Manual optimization: forward, loss, hand-written backward, then `optimizer.step()`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.net = build_network(self.arch, Linear, ACTIVATIONS, Sequential)
        self.loss_fn = LOSSES[self.hparams.loss]()

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net.forward(x)

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.loss_fn.forward(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            loss = self.loss_fn.forward(self.net.forward(x), y)
            self.net.backward(self.loss_fn.backward())
        return loss
