"""Losses with hand-written gradients.

`forward(p, y)` takes the network's output p and the targets y, tables (batch, outputs), and
returns the loss, one number; `backward()` returns dL/dp, the gradient the network's backward
starts from. As in core/layers.py, nothing here uses autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor


class MSELoss:
    """L = mean((p - y)^2) over the n elements of the table;  dL/dp = 2 (p - y) / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.diff = p - y
        return (self.diff**2).mean()

    def backward(self) -> Tensor:
        return 2 / self.diff.numel() * self.diff


class BCELoss:
    """L = -mean(y log p + (1 - y) log(1 - p)) over the n elements;
    dL/dp = (p - y) / (p (1 - p)) / n.

    p is clamped away from 0 and 1 so a saturated sigmoid gives a large but finite loss.
    """

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.p, self.y = p.clamp(self.eps, 1 - self.eps), y
        return -(y * torch.log(self.p) + (1 - y) * torch.log(1 - self.p)).mean()

    def backward(self) -> Tensor:
        return (self.p - self.y) / (self.p * (1 - self.p)) / self.p.numel()


class CrossEntropyLoss:
    """L = -mean over the n rows of sum_k y_k log p_k;  dL/dp = -y / p / n.

    p are probabilities (a Softmax output), y one-hot (or any rows summing to 1). Unlike MSE and
    BCE this averages over rows, not elements, as `F.cross_entropy`. As in BCELoss, p is clamped
    to at least eps, so a confidently wrong row gives a large but finite loss (-log eps); below
    eps the gradient through the Softmax shrinks by p / eps (to 0 at p = 0).

    Behind a Softmax the chain rule gives the classic result: Softmax.backward(-y / p / n)
    = p (-y / (p n) + sum_k y_k / n) = (p - y) / n. `SoftmaxCrossEntropyLoss` takes that shortcut.
    """

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.p, self.y = p.clamp(min=self.eps), y
        return -(y * torch.log(self.p)).sum(dim=1).mean()

    def backward(self) -> Tensor:
        return -self.y / self.p / len(self.p)


class SoftmaxCrossEntropyLoss:
    """Softmax and cross-entropy fused, on logits z: L = -mean over the n rows of
    sum_k y_k log p_k with log p = z - m - log sum_j e^(z_j - m), m = max_j z_j;
    dL/dz = (p - y) / n.

    The same loss and gradient as `Softmax` + `CrossEntropyLoss` (for rows of y summing to 1),
    with no division by p and no clamp, so it stays exact when a row saturates. It takes logits,
    so it is not in LOSSES (the network's forward returns probabilities, the loss the models call
    takes them); run the network without its final Softmax (a slice, with the same parameters),
    and read the probabilities from `.p`:

        logits = net[:-1].forward(x)      # net's forward would be Softmax of these
        loss = loss_fn.forward(logits, y)
        net[:-1].backward(loss_fn.backward())
    """

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        shifted = z - z.amax(dim=1, keepdim=True)
        log_p = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
        self.p, self.y = torch.exp(log_p), y
        return -(y * log_p).sum(dim=1).mean()

    def backward(self) -> Tensor:
        return (self.p - self.y) / len(self.p)


LOSSES = {"mse": MSELoss, "bce": BCELoss, "cross_entropy": CrossEntropyLoss}
