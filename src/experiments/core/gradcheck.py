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
SAMPLE_SEED = 0


@dataclass(frozen=True)
class Comparison:
    """A hand-written gradient tensor against one reference."""

    max_abs: float
    max_rel: float
    floor: float
    passed: bool


def compare(ours: Tensor, reference: Tensor, rtol: float, floor: float) -> Comparison:
    """Element-wise: passes where |a - b| / max(|a|, |b|, TINY) < rtol or |a - b| < floor."""
    diff = (ours - reference).abs()
    rel = diff / ours.abs().maximum(reference.abs()).clamp_min(TINY)
    ok = (rel < rtol) | (diff < floor)
    return Comparison(float(diff.max()), float(rel.max()), floor, bool(ok.all()))


def fd_indices(numel: int) -> Tensor:
    """Flat indices to finite-difference: all, or a fixed-seed sample of `MAX_FD_ELEMENTS`."""
    if numel <= MAX_FD_ELEMENTS:
        return torch.arange(numel)
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    return torch.randperm(numel, generator=generator)[:MAX_FD_ELEMENTS].sort().values


def finite_differences(loss: Callable[[], float], param: Tensor, index: Tensor) -> Tensor:
    """(loss(w + h) - loss(w - h)) / 2h for each of `param`'s elements at flat `index`."""
    flat = param.data.view(-1)
    grads = torch.empty(len(index), dtype=flat.dtype)
    for k, i in enumerate(index.tolist()):
        saved = flat[i].item()
        flat[i] = saved + FD_STEP
        up = loss()
        flat[i] = saved - FD_STEP
        down = loss()
        flat[i] = saved
        grads[k] = (up - down) / (2 * FD_STEP)
    return grads


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
        fd = finite_differences(loss_now, param, index)
        elements[name] = len(index)
        comparisons[name] = compare(gradients[name].reshape(-1)[index], fd, FD_RTOL, floor)
    return GradientCheck(loss, gradients, elements, comparisons)
