"""Optimizers written by hand: each update rule is one short method, `direction`.

Every optimizer here moves each parameter p against a direction computed from its gradient,
p <- p - lr * direction(g), with weight decay as L2 added to the gradient, g = dL/dp + wd * p.
They subclass `torch.optim.Optimizer` only for its bookkeeping (param_groups, per-parameter state,
`state_dict`/`load_state_dict`, `zero_grad`, hooks), so Lightning wraps them and checkpoints carry
their state; `step()` is ours. Each matches its torch.optim counterpart, to rounding: `SGD`,
`Momentum` (torch.optim.SGD with momentum, dampening 0, no Nesterov) and `Adam` (no AMSGrad). The
state keys are torch's (`momentum_buffer`; `step`, `exp_avg`, `exp_avg_sq`), and hold only tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from experiments.errors import ConfigError


class HandWrittenOptimizer(Optimizer):
    """p <- p - lr * direction(g), g = dL/dp + wd * p; a subclass says what the direction is."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.check_lr(defaults["lr"])
        if not defaults["weight_decay"] >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {defaults['weight_decay']}")
        super().__init__(params, defaults)

    @staticmethod
    def check_lr(lr: Any) -> None:
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr}")

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        """The update rule: which way p moves, from its gradient g (and the rule's `state`)."""
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
        for group in self.param_groups:
            wd = group["weight_decay"]
            for p in group["params"]:
                if p.grad is not None:
                    g = p.grad + wd * p if wd else p.grad
                    self.descend(p, self.direction(g, self.state[p], group), group)

    def descend(self, p: Tensor, direction: Tensor, group: dict[str, Any]) -> None:
        """p <- p - lr * direction. At lr 0, p stays as it is even where the direction is NaN."""
        if group["lr"] != 0:
            p.add_(direction, alpha=-group["lr"])


class SGD(HandWrittenOptimizer):
    """p <- p - lr * g"""

    def __init__(self, params: Iterable[Any], lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        return g


class Momentum(HandWrittenOptimizer):
    """Heavy ball: v <- momentum * v + g,  p <- p - lr * v  (v starts at 0, so v_1 = g)."""

    def __init__(
        self, params: Iterable[Any], lr: float, momentum: float = 0.9, weight_decay: float = 0.0
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def direction(self, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        v = state.get("momentum_buffer", 0.0)
        state["momentum_buffer"] = v = group["momentum"] * v + g
        return v


class Adam(HandWrittenOptimizer):
    """At step t:  m <- b1 * m + (1 - b1) * g,      v <- b2 * v + (1 - b2) * g^2,
    m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t),  p <- p - lr * m_hat / (sqrt(v_hat) + eps).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
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
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(g), torch.zeros_like(g)
        b1, b2 = group["betas"]
        state["step"] += 1
        t = state["step"].item()
        state["exp_avg"] = m = b1 * state["exp_avg"] + (1 - b1) * g
        state["exp_avg_sq"] = v = b2 * state["exp_avg_sq"] + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return m_hat / (v_hat.sqrt() + group["eps"])


OPTIMIZERS: dict[str, type[HandWrittenOptimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(
    name: str,
    params: Iterable[Any],
    lr: Any,
    momentum: float = 0.9,
    betas: Iterable[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    optimizers: dict[str, type[HandWrittenOptimizer]] = OPTIMIZERS,
) -> HandWrittenOptimizer:
    """optimizers[name] with only the knobs it has; the others are ignored."""
    if name not in optimizers:
        raise ConfigError(f"optimizer {name!r} is unknown: choose one of {', '.join(optimizers)}")
    knobs: dict[str, Any] = {
        "sgd": {},
        "momentum": {"momentum": float(momentum)},
        "adam": {"betas": tuple(float(b) for b in betas), "eps": float(eps)},
    }[name]
    return optimizers[name](params, lr=lr, weight_decay=float(weight_decay), **knobs)


def optimizer_for(arch, params: Iterable[Any]) -> HandWrittenOptimizer:
    """The optimizer an `Architecture` names, with its knobs."""
    a = arch
    return make_optimizer(a.optimizer, params, a.lr, a.momentum, a.betas, a.eps, a.weight_decay)
