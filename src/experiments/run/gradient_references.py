"""The references `scripts/gradcheck.py` (experiments.run.gradcheck) holds hand-written gradients
against: central finite differences of the scratch loss, and autograd through the `torch.nn`
network of the same config. torch at import: the gradcheck imports this after its config checks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.models import MLPModule, ScratchModule

MAX_FD_ELEMENTS = 200  # a bigger tensor is finite-differenced at a sample of its elements
SAMPLE_SEED = 0


def fd_indices(numel: int) -> Tensor:
    """Flat indices to finite-difference: all, or a fixed-seed sample of `MAX_FD_ELEMENTS`."""
    if numel <= MAX_FD_ELEMENTS:
        return torch.arange(numel)
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    return torch.randperm(numel, generator=generator)[:MAX_FD_ELEMENTS].sort().values


def finite_diffs(
    model: ScratchModule, param: nn.Parameter, x: Tensor, y: Tensor, index: Tensor, h: float
) -> Tensor:
    """Central differences (L(w + h) - L(w - h)) / 2h of the scratch loss in `param`'s
    elements at flat `index`."""
    flat = param.data.view(-1)
    grads = torch.empty(len(index), dtype=flat.dtype)
    with torch.no_grad():
        for k, i in enumerate(index.tolist()):
            saved = flat[i].item()
            flat[i] = saved + h
            up = float(model.compute_loss(model(x), y))
            flat[i] = saved - h
            down = float(model.compute_loss(model(x), y))
            flat[i] = saved
            grads[k] = (up - down) / (2 * h)
    return grads


def autograd_reference(
    model: ScratchModule, x: Tensor, y: Tensor
) -> tuple[float, dict[str, Tensor]]:
    """Loss and gradients of the `torch.nn` network with `model`'s architecture and weights."""
    with torch.random.fork_rng():  # its own initial draw is overwritten: leave the RNG be
        reference = MLPModule(**dict(model.hparams)).double()
    reference.net.load_state_dict(model.net.state_dict())
    named = dict(reference.net.named_parameters())
    loss = reference.compute_loss(reference(x), y)
    grads = torch.autograd.grad(loss, list(named.values()))
    return float(loss.detach()), dict(zip(named, grads, strict=True))
