"""Optimizers written by hand: each update rule is a few lines of tensor arithmetic.

They subclass `torch.optim.Optimizer` only for its bookkeeping (param_groups, per-parameter state,
`state_dict`/`load_state_dict`, `zero_grad`, hooks), so Lightning wraps them and checkpoints carry
their state; `step()` is ours. Each matches its torch.optim counterpart, to rounding: `SGD`,
`Momentum` (torch.optim.SGD with momentum, dampening 0, no Nesterov) and `Adam` (no AMSGrad), with
weight decay as L2 added to the gradient, g = dL/dp + wd * p. The state keys are torch's
(`momentum_buffer`; `step`, `exp_avg`, `exp_avg_sq`), and hold only tensors.

Population: `lr` may also be a 1-D tensor with one learning rate per member, when every parameter
has the member dimension first; member i then moves as a lone network with lr[i] would. A member
whose lr is 0 keeps its weights bit for bit, whatever its gradient (even NaN): that is how a
diverged member is frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from experiments.errors import ConfigError

LearningRate = float | Tensor


def _check_lr(lr: LearningRate) -> None:
    if isinstance(lr, Tensor):
        if lr.dim() != 1 or not lr.is_floating_point() or not bool((lr >= 0).all()):
            raise ValueError(f"a tensor lr must be 1-D, floating point and >= 0, got {lr}")
    elif not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}")


def _member_lr(lr: Tensor, p: Tensor) -> Tensor:
    """A per-member lr as (members, 1, 1, ...) in p's dtype and device."""
    if p.dim() == 0 or p.shape[0] != lr.shape[0]:
        raise ValueError(
            f"{lr.shape[0]} per-member learning rates, but a parameter of shape {tuple(p.shape)}: "
            "every parameter needs the member dimension first"
        )
    return lr.to(p).view(-1, *[1] * (p.dim() - 1))


class MemberRates:
    """A group's per-member lr spread to each parameter's shape, and which members are frozen
    (lr 0), made again only when the lr tensor changes (a member diverging zeroes its rate in
    place). Converting and comparing the rates for every parameter at every update took a fifth
    of a population's step, and an update with the rates broadcast (members, 1, 1) ~5x as long
    as with them spread out."""

    def __init__(self) -> None:
        self.source: Tensor | None = None
        self.version = -1
        self.views: dict[tuple, tuple[Tensor, Tensor | None]] = {}

    def __call__(self, lr: Tensor, p: Tensor) -> tuple[Tensor, Tensor | None]:
        """(lr spread to p's shape, the frozen members' mask likewise or None if none is)."""
        if lr is not self.source or lr._version != self.version:
            self.source, self.version, self.views = lr, lr._version, {}
        key = (p.dtype, p.device, p.shape)
        if key not in self.views:
            spread = _member_lr(lr, p).expand_as(p).contiguous()
            frozen = spread == 0
            self.views[key] = (spread, frozen if bool(frozen.any()) else None)
        return self.views[key]


def _descend(p: Tensor, lr: float, direction: Tensor) -> None:
    """p <- p - lr * direction, rounded as torch.optim rounds it (so the scratch model and the
    autograd one stay equal bit for bit where their gradients are)."""
    if lr != 0:
        p.add_(direction, alpha=-lr)


def _descend_members(p: Tensor, lr: Tensor, frozen: Tensor | None, direction: Tensor) -> None:
    """Each member's p <- p - lr * direction (one fused multiply-add, so a member of a population
    moves exactly as a lone network with its lr), except that a frozen member does not move at
    all."""
    if frozen is not None:  # a zeroed direction leaves every float as it was; 0 * NaN would not
        direction = torch.where(frozen, 0.0, direction)
    p.addcmul_(lr, direction, value=-1)


class HandWrittenOptimizer(Optimizer):
    """p <- p - lr * direction(g), g = dL/dp + wd * p; a subclass says what the direction is."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        _check_lr(defaults["lr"])
        if not defaults["weight_decay"] >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {defaults['weight_decay']}")
        super().__init__(params, defaults)
        self._member_rates: dict[int, MemberRates] = {}  # by group index

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.update()
        return loss

    @torch.no_grad()
    def update(self) -> None:
        """The update itself, without torch's step hooks: what a chunk's later updates call
        (`experiments.loop.chunking.step`)."""
        for i, group in enumerate(self.param_groups):
            wd, lr = group["weight_decay"], group["lr"]
            rates = self._member_rates.setdefault(i, MemberRates())
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if wd == 0 else p.grad + wd * p
                direction = self.direction(g, self.state[p], group)
                if isinstance(lr, Tensor):
                    _descend_members(p, *rates(lr, p), direction)
                else:
                    _descend(p, lr, direction)


class SGD(HandWrittenOptimizer):
    """p <- p - lr * g"""

    def __init__(self, params: Iterable[Any], lr: LearningRate, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        return g


class Momentum(HandWrittenOptimizer):
    """Heavy ball: v <- momentum * v + g,  p <- p - lr * v  (v starts at 0, so v_1 = g)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        if not state:
            state["momentum_buffer"] = torch.zeros_like(g)
        v = state["momentum_buffer"]
        v.mul_(group["momentum"]).add_(g)
        return v


class Adam(HandWrittenOptimizer):
    """At step t:  m <- b1 * m + (1 - b1) * g,      v <- b2 * v + (1 - b2) * g^2,
    m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t),  p <- p - lr * m_hat / (sqrt(v_hat) + eps).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        if not state:
            # As torch.optim.Adam: the step count is a scalar tensor, so checkpoints swap freely.
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(g)
            state["exp_avg_sq"] = torch.zeros_like(g)
        b1, b2 = group["betas"]
        state["step"] += 1
        t = state["step"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(b1).add_((1 - b1) * g)
        v.mul_(b2).add_((1 - b2) * g * g)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return m_hat / (v_hat.sqrt() + group["eps"])


OPTIMIZERS: dict[str, type[HandWrittenOptimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(
    name: str,
    params: Iterable[Any],
    lr: LearningRate,
    momentum: float = 0.9,
    betas: Iterable[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> HandWrittenOptimizer:
    """OPTIMIZERS[name] with only the knobs it has; the others are ignored."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"optimizer {name!r} is unknown: choose one of {', '.join(OPTIMIZERS)}")
    knobs: dict[str, Any] = {
        "sgd": {},
        "momentum": {"momentum": float(momentum)},
        "adam": {"betas": tuple(float(b) for b in betas), "eps": float(eps)},
    }[name]
    return OPTIMIZERS[name](params, lr=lr, weight_decay=float(weight_decay), **knobs)


def optimizer_for(arch, params: Iterable[Any], lr: LearningRate | None = None):
    """The optimizer an `Architecture` names, with its knobs; `lr` (a per-member tensor, say)
    replaces the architecture's own rate."""
    return make_optimizer(
        arch.optimizer,
        params,
        arch.lr if lr is None else lr,
        arch.momentum,
        arch.betas,
        arch.eps,
        arch.weight_decay,
    )
