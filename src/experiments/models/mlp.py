"""`model=mlp`: the same architecture from `torch.nn.Linear`, trained with autograd."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import skip_init

from experiments.core.convnet import ConvLayers
from experiments.core.network import build_network
from experiments.models.base import LessonModule


def cross_entropy(p: Tensor, y: Tensor, eps: float = 1e-7) -> Tensor:
    """Torch's negative log-likelihood of one-hot targets y under probabilities p (a softmax's
    output), p clamped as the scratch loss clamps it."""
    return F.nll_loss(p.clamp_min(eps).log(), y.argmax(dim=-1))


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
    "softmax": partial(nn.Softmax, dim=-1),
}
LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy, "cross_entropy": cross_entropy}


def _linear(fan_in: int, fan_out: int, bias: bool) -> nn.Linear:
    # skip_init: nn.Linear's constructor would draw from the RNG before our shared init does.
    return skip_init(nn.Linear, fan_in, fan_out, bias=bias)


def _conv(fan_in: int, fan_out: int, kernel: int, stride: int, padding: int, bias: bool):
    return skip_init(nn.Conv2d, fan_in, fan_out, kernel, stride=stride, padding=padding, bias=bias)


CONV_LAYERS = ConvLayers(
    partial(nn.Unflatten, 1),
    _conv,
    {"max": nn.MaxPool2d, "avg": nn.AvgPool2d},
    nn.Flatten,
    nn.Sequential,
)


class MLPModule(LessonModule):
    """Autograd: `manual_backward` of the torch loss, then the optimizer's `step()`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = build_network(self.arch, _linear, ACTIVATIONS, nn.Sequential, conv=CONV_LAYERS)
        self.criterion = LOSSES[self.arch.loss]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """torch.optim's own: SGD, SGD with momentum, or Adam, with the architecture's knobs."""
        a = self.arch
        if a.optimizer == "adam":
            return torch.optim.Adam(
                self.parameters(), lr=a.lr, betas=a.betas, eps=a.eps, weight_decay=a.weight_decay
            )
        momentum = a.momentum if a.optimizer == "momentum" else 0.0
        return torch.optim.SGD(
            self.parameters(), lr=a.lr, momentum=momentum, weight_decay=a.weight_decay
        )

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.criterion(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor, weight: float = 1.0) -> Tensor:
        self.zero_grad()
        loss = self.criterion(self.net(x), y)
        loss = loss if weight == 1 else loss * weight
        self.manual_backward(loss)  # under DDP, the average over ranks happens here
        return loss.detach()
