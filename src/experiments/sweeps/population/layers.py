"""The scratch layers and losses with a leading member dimension: a population's networks side by
side, so one hand-written backward computes every member's gradients.

Every parameter has the member dimension first: `weight` (members, out, in), `bias`
(members, out). Inputs are (members, batch, in), or one batch (batch, in) that every member sees;
what flows between layers is (members, batch, features). The formulas are those of
`experiments.core.layers` and `experiments.core.losses`, per member, and a loss is one value per
member. core's activations serve as they are: element-wise, or (Softmax) over the last dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.core import losses
from experiments.core.layers import Linear, Sequential
from experiments.models.run_layers import PlainCaches


class MemberLinear(PlainCaches, Linear):
    """One `Linear` per member: z_m = x_m W_m^T + b_m (its cache set as a run's layers set it)."""

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        self.x = x
        if x.dim() == 2:  # one batch, every member's weights
            return against_every_member(x, self.weight, self.bias)
        z = x @ self.weight.mT
        return z if self.bias is None else z + self.bias.unsqueeze(1)

    def backward(self, grad_z: Tensor, input_grad: bool = True) -> Tensor | None:
        self.weight.grad = grad_z.mT @ self.x  # a shared x broadcasts over the members
        if self.bias is not None:
            self.bias.grad = grad_z.sum(dim=1)
        return grad_z @ self.weight if input_grad else None


def against_every_member(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x W_m^T + b_m for each member m: (batch, in) against (members, out, in) as one matrix
    product (batch, in) @ (in, members * out) with the biases added in it, then laid out as
    (members, batch, out). The same numbers as `x @ weight.mT + bias` (to rounding), which
    broadcasts x into `members` small products and each bias over the batch: ~2x slower at
    10,000 members. Contiguous: the element-wise ops after it are ~15x slower on a view."""
    members, out, inputs = weight.shape
    flat = weight.reshape(members * out, inputs).T
    z = x @ flat if bias is None else torch.addmm(bias.reshape(members * out), x, flat)
    return z.reshape(len(x), members, out).transpose(0, 1).contiguous()


class MemberSequential(Sequential):
    """`Sequential` whose first layer computes only its parameters' gradients: its input is the
    data, which needs none (at 10,000 members, a batched product saved per update)."""

    def backward(self, grad: Tensor) -> None:
        first, *rest = self
        for layer in reversed(rest):
            grad = layer.backward(grad)
        first.backward(grad, input_grad=False)


def per_table(t: Tensor) -> int:
    """Elements of one member's (batch, outputs) table: the n that its loss averages over."""
    return t.shape[1] * t.shape[2]


class MSELoss(losses.MSELoss):
    """Each member's mean((p - y)^2);  dL_m/dp_m = 2 (p_m - y_m) / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.diff = p - y
        return (self.diff**2).mean(dim=(1, 2))

    def backward(self) -> Tensor:
        return 2 / per_table(self.diff) * self.diff


class BCELoss(losses.BCELoss):
    """Each member's binary cross-entropy;  dL_m/dp_m = (p_m - y_m) / (p_m (1 - p_m)) / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.p, self.y = p.clamp(self.eps, 1 - self.eps), y
        return -(y * torch.log(self.p) + (1 - y) * torch.log(1 - self.p)).mean(dim=(1, 2))

    def backward(self) -> Tensor:
        return (self.p - self.y) / (self.p * (1 - self.p)) / per_table(self.p)


class CrossEntropyLoss(losses.CrossEntropyLoss):
    """Each member's cross-entropy, a mean over its n rows;  dL_m/dp_m = -y_m / p_m / n."""

    def forward(self, p: Tensor, y: Tensor) -> Tensor:
        self.p, self.y = p.clamp(min=self.eps), y
        return -(y * torch.log(self.p)).sum(dim=2).mean(dim=1)

    def backward(self) -> Tensor:
        return -self.y / self.p / self.p.shape[1]


class SoftmaxCrossEntropyLoss(losses.SoftmaxCrossEntropyLoss):
    """Each member's fused softmax cross-entropy on logits;  dL_m/dz_m = (p_m - y_m) / n."""

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        shifted = z - z.amax(dim=2, keepdim=True)
        log_p = shifted - torch.log(torch.exp(shifted).sum(dim=2, keepdim=True))
        self.p, self.y = torch.exp(log_p), y
        return -(y * log_p).sum(dim=2).mean(dim=1)

    def backward(self) -> Tensor:
        return (self.p - self.y) / self.p.shape[1]


LOSSES = {"mse": MSELoss, "bce": BCELoss, "cross_entropy": CrossEntropyLoss}
