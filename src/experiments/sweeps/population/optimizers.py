"""The hand-written optimizers with one learning rate per member.

`lr` is a 1-D tensor, one rate per member, and every parameter has the member dimension first;
member i then moves as a lone network with lr[i] would (the rules are core's, `direction`, applied
to the stacked tensors). A member whose lr is 0 keeps its weights bit for bit, whatever its
gradient (even NaN): that is how a diverged member is frozen.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from experiments.core.optimizers import OPTIMIZERS, HandWrittenOptimizer, make_optimizer


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


class PerMemberRates(HandWrittenOptimizer):
    """A hand-written optimizer whose `lr` is one rate per member (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member_rates: dict[int, MemberRates] = {}  # by id of the param group

    @staticmethod
    def check_lr(lr: Any) -> None:
        if (
            not isinstance(lr, Tensor)
            or lr.dim() != 1
            or not lr.is_floating_point()
            or not bool((lr >= 0).all())
        ):
            raise ValueError(f"per-member lr must be a 1-D floating tensor >= 0, got {lr}")

    def descend(self, p: Tensor, direction: Tensor, group: dict[str, Any]) -> None:
        """Each member's p <- p - lr * direction (one fused multiply-add, so a member moves
        exactly as a lone network with its lr), except that a frozen member does not move."""
        rates = self.member_rates.setdefault(id(group), MemberRates())
        lr, frozen = rates(group["lr"], p)
        if frozen is not None:  # a zeroed direction leaves every float as it was; 0 * NaN would not
            direction = direction.masked_fill(frozen, 0.0)
        p.addcmul_(lr, direction, value=-1)


MEMBER_OPTIMIZERS: dict[str, type[HandWrittenOptimizer]] = {
    name: type(f"Member{rule.__name__}", (PerMemberRates, rule), {"__doc__": rule.__doc__})
    for name, rule in OPTIMIZERS.items()
}


def member_optimizer(arch, params, lrs: Tensor) -> HandWrittenOptimizer:
    """The optimizer an `Architecture` names, with its knobs and one learning rate per member."""
    a = arch
    return make_optimizer(
        a.optimizer, params, lrs, a.momentum, a.betas, a.eps, a.weight_decay, MEMBER_OPTIMIZERS
    )
