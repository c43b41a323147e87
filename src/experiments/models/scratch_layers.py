"""Layers and losses with hand-written backward passes.

Each class caches what its backward needs during `forward`, and `backward(grad_out)` returns the
gradient with respect to its input by the chain rule. `Linear` also stores the gradients of its
parameters in `.grad`, where a plain `torch.optim` optimizer finds them. Nothing here uses autograd:
callers run it under `torch.no_grad()`.

Shapes follow `torch.nn.Linear`: inputs are (batch, features), `weight` is (out, in), so a trained
scratch network's state_dict loads into the equivalent `torch.nn` network unchanged. A population
(see experiments.population) adds a leading member dimension: `weight` (members, out, in), inputs
(members, batch, in) or a shared (batch, in); the same formulas hold per member, and a loss is
then one value per member.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Linear(nn.Module):
    """z = x W^T + b (with `members`, one independent layer per member)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, members: int | None = None
    ) -> None:
        super().__init__()
        lead = () if members is None else (members,)
        self.weight = nn.Parameter(torch.empty(*lead, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(*lead, out_features)) if bias else None
        self.x: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self.x = x
        z = x @ self.weight.mT
        return z + self.bias.unsqueeze(-2) if self.bias is not None else z

    def backward(self, grad_z: Tensor) -> Tensor:
        # dL/dW = (dL/dz)^T x,  dL/db = sum over the batch of dL/dz,  dL/dx = dL/dz W
        self.weight.grad = grad_z.mT @ self.x
        if self.bias is not None:
            self.bias.grad = grad_z.sum(dim=-2)
        return grad_z @ self.weight


class Sigmoid(nn.Module):
    """s = 1 / (1 + e^-z); ds/dz = s (1 - s)."""

    def forward(self, z: Tensor) -> Tensor:
        self.s = torch.sigmoid(z)
        return self.s

    def backward(self, grad_s: Tensor) -> Tensor:
        return grad_s * self.s * (1 - self.s)


class Tanh(nn.Module):
    """t = tanh(z); dt/dz = 1 - t^2."""

    def forward(self, z: Tensor) -> Tensor:
        self.t = torch.tanh(z)
        return self.t

    def backward(self, grad_t: Tensor) -> Tensor:
        return grad_t * (1 - self.t * self.t)


class ReLU(nn.Module):
    """r = max(z, 0); dr/dz = 1 where z > 0, else 0."""

    def forward(self, z: Tensor) -> Tensor:
        self.positive = z > 0
        return z * self.positive

    def backward(self, grad_r: Tensor) -> Tensor:
        return grad_r * self.positive


class Identity(nn.Module):
    """a = z; da/dz = 1."""

    def forward(self, z: Tensor) -> Tensor:
        return z

    def backward(self, grad_a: Tensor) -> Tensor:
        return grad_a


def _per_table(t: Tensor) -> int:
    """Elements of one (batch, outputs) table: the n that a loss averages over."""
    return t.shape[-2] * t.shape[-1]


class MSELoss:
    """L = mean((p - y)^2) over a table's elements; dL/dp = 2 (p - y) / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.diff = p - y
        return (self.diff * self.diff).mean(dim=(-2, -1))

    def backward(self) -> Tensor:
        return 2 * self.diff / _per_table(self.diff)


class BCELoss:
    """L = -mean(y log p + (1 - y) log(1 - p)); dL/dp = (p - y) / (p (1 - p)) / n.

    p is clamped away from 0 and 1 so a saturated sigmoid gives a large but finite loss.
    """

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.p = p.clamp(self.eps, 1 - self.eps)
        self.y = y
        return -(y * torch.log(self.p) + (1 - y) * torch.log(1 - self.p)).mean(dim=(-2, -1))

    def backward(self) -> Tensor:
        return (self.p - self.y) / (self.p * (1 - self.p)) / _per_table(self.p)


class Sequential(nn.Sequential):
    """Layers applied in order; backward walks them in reverse, passing the gradient down."""

    def forward(self, x: Tensor) -> Tensor:
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, grad: Tensor) -> Tensor:
        for layer in reversed(self):
            grad = layer.backward(grad)
        return grad


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
}
LOSSES = {"mse": MSELoss, "bce": BCELoss}
