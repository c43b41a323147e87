"""Layers and losses with hand-written backward passes.

Each class caches what its backward needs during `forward`, and `backward(grad_out)` returns the
gradient with respect to its input by the chain rule. `Linear` also stores the gradients of its
parameters in `.grad`, where a plain `torch.optim` optimizer finds them. Nothing here uses autograd:
callers run it under `torch.no_grad()`.

Shapes follow `torch.nn.Linear`: inputs are (batch, features), `weight` is (out, in), so a trained
scratch network's state_dict loads into the equivalent `torch.nn` network unchanged. A population
(see experiments.sweeps.population)
adds a leading member dimension: `weight` (members, out, in), inputs
(members, batch, in) or a shared (batch, in); the same formulas hold per member, and a loss is
then one value per member.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Layer(nn.Module):
    """Base of the scratch layers: what `forward` caches for `backward` (`self.x = x`) is kept
    as a plain attribute, skipping nn.Module's bookkeeping for parameters and buffers, which
    costs more than a tiny layer's arithmetic."""

    def __setattr__(self, name: str, value: object) -> None:
        if type(value) is Tensor:  # not a Parameter: a cache
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)


class Linear(Layer):
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
        if x.dim() == 2 and self.weight.dim() == 3:  # one batch, every member's weights
            return _against_every_member(x, self.weight, self.bias)
        if x.dim() == 2 and self.bias is not None:  # b + x W^T in one op, as nn.Linear does
            return torch.addmm(self.bias, x, self.weight.T)
        z = x @ self.weight.mT
        return z + self.bias.unsqueeze(-2) if self.bias is not None else z

    def backward(self, grad_z: Tensor, input_grad: bool = True) -> Tensor | None:
        # dL/dW = (dL/dz)^T x,  dL/db = sum over the batch of dL/dz,  dL/dx = dL/dz W
        self.weight.grad = grad_z.mT @ self.x
        if self.bias is not None:
            self.bias.grad = grad_z.sum(dim=-2)
        return grad_z @ self.weight if input_grad else None


def _against_every_member(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x W_m^T + b_m for each member m: (batch, in) against (members, out, in) as one matrix
    product (batch, in) @ (in, members * out) with the biases added in it, then laid out as
    (members, batch, out). The same numbers as `x @ weight.mT + bias` (to rounding), which
    broadcasts x into `members` small products and each bias over the batch: ~2x slower at
    10,000 members. Contiguous: the element-wise ops after it are ~15x slower on a view."""
    members, out, inputs = weight.shape
    flat = weight.reshape(members * out, inputs).T
    z = x @ flat if bias is None else torch.addmm(bias.reshape(members * out), x, flat)
    return z.reshape(len(x), members, out).transpose(0, 1).contiguous()


class Sigmoid(Layer):
    """s = 1 / (1 + e^-z); ds/dz = s (1 - s)."""

    def forward(self, z: Tensor) -> Tensor:
        self.s = torch.sigmoid(z)
        return self.s

    def backward(self, grad_s: Tensor) -> Tensor:
        # torch.rsub(s, 1) is 1 - s: the `1 - tensor` operator goes through a Python wrapper
        # that costs more than this arithmetic on a lesson's tensors.
        return grad_s * self.s * torch.rsub(self.s, 1)


class Tanh(Layer):
    """t = tanh(z); dt/dz = 1 - t^2."""

    def forward(self, z: Tensor) -> Tensor:
        self.t = torch.tanh(z)
        return self.t

    def backward(self, grad_t: Tensor) -> Tensor:
        return grad_t * torch.rsub(self.t * self.t, 1)  # 1 - t^2


class ReLU(Layer):
    """r = max(z, 0); dr/dz = 1 where z > 0, else 0."""

    def forward(self, z: Tensor) -> Tensor:
        self.positive = z > 0
        return z * self.positive

    def backward(self, grad_r: Tensor) -> Tensor:
        return grad_r * self.positive


class Identity(Layer):
    """a = z; da/dz = 1."""

    def forward(self, z: Tensor) -> Tensor:
        return z

    def backward(self, grad_a: Tensor) -> Tensor:
        return grad_a


class Softmax(Layer):
    """p_i = e^(z_i - m) / sum_j e^(z_j - m) over the last dim, m = max_j z_j (the shift leaves p
    unchanged and keeps every exponent <= 0, so large logits cannot overflow).

    dp_i/dz_j = p_i (δ_ij - p_j), so the vector-Jacobian product is
    dL/dz = p * (dL/dp - sum_j dL/dp_j p_j).
    """

    def forward(self, z: Tensor) -> Tensor:
        e = torch.exp(z - z.amax(dim=-1, keepdim=True))
        self.p = e / e.sum(dim=-1, keepdim=True)
        return self.p

    def backward(self, grad_p: Tensor) -> Tensor:
        return self.p * (grad_p - (grad_p * self.p).sum(dim=-1, keepdim=True))


def _per_table(t: Tensor) -> int:
    """Elements of one (batch, outputs) table: the n that a loss averages over."""
    return t.shape[-2] * t.shape[-1]


class MSELoss:
    """L = mean((p - y)^2) over a table's elements; dL/dp = 2 (p - y) / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.diff = p - y
        return (self.diff * self.diff).mean(dim=(-2, -1))

    def backward(self) -> Tensor:
        return self.diff * (2 / _per_table(self.diff))  # one op, rounded as torch's own


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


class CrossEntropyLoss:
    """L = -mean over rows of sum_k y_k log p_k; dL/dp = -y / p / n, n = rows of the table.

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
        self.p = p.clamp_min(self.eps)
        self.y = y
        return -(y * torch.log(self.p)).sum(dim=-1).mean(dim=-1)

    def backward(self) -> Tensor:
        return -self.y / self.p / self.p.shape[-2]


class SoftmaxCrossEntropyLoss:
    """Softmax and cross-entropy fused, on logits z: L = -mean over rows of sum_k y_k log p_k
    with log p = z - m - log sum_j e^(z_j - m), m = max_j z_j; dL/dz = (p - y) / n.

    The fast path of `Softmax` + `CrossEntropyLoss`: the same loss and gradient (for rows of y
    summing to 1), with no division by p and no clamp, so it stays exact when a row saturates.
    It takes logits, so it is not in LOSSES (the network's forward returns probabilities, the
    loss the models call takes them); run the network without its final Softmax (a slice, with
    the same parameters), and read the probabilities from `.p`:

        logits = net[:-1].forward(x)      # net's forward would be Softmax of these
        loss = loss_fn.forward(logits, y)
        net[:-1].backward(loss_fn.backward())
    """

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        shifted = z - z.amax(dim=-1, keepdim=True)
        log_p = shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))
        self.p = torch.exp(log_p)
        self.y = y
        return -(y * log_p).sum(dim=-1).mean(dim=-1)

    def backward(self) -> Tensor:
        return (self.p - self.y) / self.p.shape[-2]


class Sequential(nn.Sequential):
    """Layers applied in order; backward walks them in reverse, passing the gradient down. The
    first layer's input is the data, which needs no gradient: that layer computes only its
    parameters' (`Linear.backward(..., input_grad=False)`)."""

    def forward(self, x: Tensor) -> Tensor:
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, grad: Tensor) -> None:
        first, *rest = self
        for layer in reversed(rest):
            grad = layer.backward(grad)
        first.backward(grad, input_grad=False)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "identity": Identity,
    "softmax": Softmax,
}
LOSSES = {"mse": MSELoss, "bce": BCELoss, "cross_entropy": CrossEntropyLoss}
