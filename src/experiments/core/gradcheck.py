"""The gradient check: a network's hand-written gradients against central finite differences.

For each parameter tensor, the gradient from the layers' `backward` is compared with
(L(w + h) - L(w - h)) / 2h, h = 1e-6, one element at a time (every element, or a fixed-seed sample
of `MAX_FD_ELEMENTS` in a bigger tensor). Run it in float64.

Per element, rel = |a - b| / max(|a|, |b|, TINY). An element passes when rel < 1e-6, or when
|a - b| is under the noise floor 100 eps |L| / h, eps = 2.2e-16 (float64's machine epsilon): for a
gradient that small, a relative error means nothing. A central difference is off by
h^2 |L'''| / 6 from truncation (~1e-13) plus the rounding of the two losses, about eps |L| / h
(~1e-10 for a loss of order one). A correct gradient therefore agrees to about 1e-8 relative where
it is of useful size, and only an element near that rounding floor strays further (the worst seen
over the six lessons, seeds 0-19: rel 2.5e-6 on an element of 2e-5, off by 5e-11), while a wrong
factor or a missing term is off by order one.

A kink (ReLU at 0, a max-pool's tie between two entries) inside [w - h, w + h] makes the central
difference a mix of two slopes, right for neither side. Such an element shows it one of two ways:
its central difference moves when the step is halved (for a smooth loss the two agree to
h^2 |L'''|; past the comparison's own tolerance, `FD_RTOL` or the noise floor, they do
not), or, with the kink right at w, its one-sided differences (L(w + h) - L(w)) / h and
(L(w) - L(w - h)) / h differ by more than `KINK_SLOPES` of the larger (a smooth loss's differ by
h |L''|). Such elements are left out of the finite-difference comparison and counted
(`Comparison.kinks`); autograd, which takes the same side as the layers, still checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_NOISE = 100  # the finite-difference floor, in units of eps |L| / h
EPS = 2.220446049250313e-16  # float64 machine epsilon
TINY = 1e-300
MAX_FD_ELEMENTS = 200
KINK_SLOPES = 0.1  # one-sided slopes this far apart (relative): a kink at w
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Comparison:
    """A hand-written gradient tensor against one reference."""

    max_abs: float
    max_rel: float
    floor: float
    passed: bool
    kinks: int = 0  # elements left out: a kink between w - h and w + h


def compare(
    ours: Tensor, reference: Tensor, rtol: float, floor: float, skip: Tensor | None = None
) -> Comparison:
    """Element-wise: passes where |a - b| / max(|a|, |b|, TINY) < rtol or |a - b| < floor;
    elements where `skip` is true are left out."""
    keep = torch.ones_like(ours, dtype=torch.bool) if skip is None else ~skip
    diff = (ours - reference).abs()[keep]
    rel = diff / ours[keep].abs().maximum(reference[keep].abs()).clamp_min(TINY)
    ok = (rel < rtol) | (diff < floor)
    worst_abs, worst_rel = (float(diff.max()), float(rel.max())) if len(diff) else (0.0, 0.0)
    return Comparison(worst_abs, worst_rel, floor, bool(ok.all()), int((~keep).sum()))


def fd_indices(numel: int) -> Tensor:
    """Flat indices to finite-difference: all, or a fixed-seed sample of `MAX_FD_ELEMENTS`."""
    if numel <= MAX_FD_ELEMENTS:
        return torch.arange(numel)
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    return torch.randperm(numel, generator=generator)[:MAX_FD_ELEMENTS].sort().values


def finite_differences(
    loss: Callable[[], float], param: Tensor, index: Tensor, at: float, floor: float
) -> tuple[Tensor, Tensor]:
    """(loss(w + h) - loss(w - h)) / 2h for each of `param`'s elements at flat `index`, and which
    of them have a kink within h; `at` is the loss where nothing is moved."""
    flat = param.data.view(-1)
    grads = torch.empty(len(index), dtype=flat.dtype)
    kinks = torch.zeros(len(index), dtype=torch.bool)

    def moved(i: int, saved: float, h: float) -> tuple[float, float]:
        """(L(w + h), L(w - h))"""
        flat[i] = saved + h
        up = loss()
        flat[i] = saved - h
        down = loss()
        flat[i] = saved
        return up, down

    for k, i in enumerate(index.tolist()):
        saved = flat[i].item()
        up, down = moved(i, saved, FD_STEP)
        grads[k] = whole = (up - down) / (2 * FD_STEP)
        half_up, half_down = moved(i, saved, FD_STEP / 2)
        half = (half_up - half_down) / FD_STEP  # the central difference at h / 2
        right, left = (up - at) / FD_STEP, (at - down) / FD_STEP
        kinks[k] = abs(whole - half) > max(FD_RTOL * max(abs(whole), abs(half)), floor) or (
            abs(right - left) > max(KINK_SLOPES * max(abs(right), abs(left)), floor)
        )
    return grads, kinks


@dataclass(frozen=True)
class GradientCheck:
    """The loss, each parameter's hand-written gradient (by state_dict name), how many of its
    elements were finite-differenced, and how they compare."""

    loss: float
    gradients: dict[str, Tensor]
    elements: dict[str, int]
    finite_differences: dict[str, Comparison]


@torch.no_grad()
def check_gradients(net: nn.Module, loss_fn, x: Tensor, y: Tensor) -> GradientCheck:
    """Every parameter of `net` (a scratch Sequential): `backward`'s gradient of
    `loss_fn.forward(net.forward(x), y)` against finite differences of that loss."""

    def loss_now() -> float:
        return float(loss_fn.forward(net.forward(x), y))

    loss = loss_now()
    net.backward(loss_fn.backward())
    gradients = {name: p.grad.clone() for name, p in net.named_parameters()}
    floor = FD_NOISE * EPS * abs(loss) / FD_STEP
    elements, comparisons = {}, {}
    for name, param in net.named_parameters():
        index = fd_indices(param.numel())
        fd, kinks = finite_differences(loss_now, param, index, loss, floor)
        elements[name] = len(index)
        ours = gradients[name].reshape(-1)[index]
        comparisons[name] = compare(ours, fd, FD_RTOL, floor, skip=kinks)
    return GradientCheck(loss, gradients, elements, comparisons)
