"""Layers with hand-written backward passes.

Each layer's `forward` caches what its `backward` needs, and `backward(grad_out)` returns the
gradient of the loss with respect to the layer's input, by the chain rule; `Linear` also stores
its parameters' gradients in `.grad`, where an optimizer finds them. Nothing here uses autograd:
callers run it under `torch.no_grad()`.

Inputs are tables (batch, features). Shapes follow `torch.nn.Linear` (`weight` is (out, in)), so a
trained scratch network's state_dict loads into the equivalent `torch.nn` network unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Linear(nn.Module):
    """z = x W^T + b.

    dL/dW = (dL/dz)^T x,  dL/db = sum over the batch of dL/dz,  dL/dx = dL/dz W.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        self.x = x
        z = x @ self.weight.T
        return z if self.bias is None else z + self.bias

    def backward(self, grad_z: Tensor) -> Tensor:
        self.weight.grad = grad_z.T @ self.x
        if self.bias is not None:
            self.bias.grad = grad_z.sum(dim=0)
        return grad_z @ self.weight


class Sigmoid(nn.Module):
    """s = 1 / (1 + e^-z);  ds/dz = s (1 - s)."""

    def forward(self, z: Tensor) -> Tensor:
        self.s = torch.sigmoid(z)
        return self.s

    def backward(self, grad: Tensor) -> Tensor:
        return grad * self.s * (1 - self.s)


class Tanh(nn.Module):
    """t = tanh(z);  dt/dz = 1 - t^2."""

    def forward(self, z: Tensor) -> Tensor:
        self.t = torch.tanh(z)
        return self.t

    def backward(self, grad: Tensor) -> Tensor:
        return grad * (1 - self.t**2)


class ReLU(nn.Module):
    """r = max(z, 0);  dr/dz = 1 where z > 0, else 0."""

    def forward(self, z: Tensor) -> Tensor:
        self.z = z
        return z.clamp(min=0)

    def backward(self, grad: Tensor) -> Tensor:
        return grad * (self.z > 0)


class Identity(nn.Module):
    """a = z;  da/dz = 1."""

    def forward(self, z: Tensor) -> Tensor:
        return z

    def backward(self, grad: Tensor) -> Tensor:
        return grad


class Softmax(nn.Module):
    """p_i = e^(z_i - m) / sum_j e^(z_j - m) over the features, m = max_j z_j (the shift leaves p
    unchanged and keeps every exponent <= 0, so large logits cannot overflow).

    dp_i/dz_j = p_i (δ_ij - p_j), so the vector-Jacobian product is
    dL/dz = p * (dL/dp - sum_j dL/dp_j p_j).
    """

    def forward(self, z: Tensor) -> Tensor:
        e = torch.exp(z - z.amax(dim=-1, keepdim=True))
        self.p = e / e.sum(dim=-1, keepdim=True)
        return self.p

    def backward(self, grad: Tensor) -> Tensor:
        return self.p * (grad - (grad * self.p).sum(dim=-1, keepdim=True))


class Sequential(nn.Sequential):
    """Layers applied in order; backward walks them in reverse, passing the gradient down."""

    def forward(self, x: Tensor) -> Tensor:
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, grad: Tensor) -> Tensor:
        for layer in reversed(list(self)):  # (nn.Sequential's own reversed indexes one by one)
            grad = layer.backward(grad)
        return grad


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
    "softmax": Softmax,
}
