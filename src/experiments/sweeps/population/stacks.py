"""The members' networks as one module with a leading member dimension, for the vectorized
sweeper: `forward`, `losses` (one per member), `loss_and_gradients`, `named_member_parameters`."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from experiments.models import MLPModule, ScratchModule
from experiments.sweeps.population.layers import LOSSES
from experiments.sweeps.population.stacking import stack_networks


class ScratchStack(nn.Module):
    """Members' scratch networks side by side: the same layers with a leading member dimension
    on every weight (`sweeps.population.layers`), so one hand-written backward updates them all."""

    def __init__(self, models: list[ScratchModule]) -> None:
        super().__init__()
        self.net = stack_networks([model.net for model in models])
        self.loss_fn = LOSSES[models[0].arch.loss]()

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net.forward(x)

    def losses(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.loss_fn.forward(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            losses = self.loss_fn.forward(self.net.forward(x), y)
            self.net.backward(self.loss_fn.backward())
        return losses

    def named_member_parameters(self):
        """(name, stacked parameter) under the ordinary network's names (`0.weight`, ...)."""
        return self.net.named_parameters()


class VmapStack(nn.Module):
    """Members' `torch.nn` networks stacked with `torch.func`: one parameter tensor per layer with a
    leading member dimension, the forward vmapped over it, gradients by autograd."""

    def __init__(self, models: list[MLPModule]) -> None:
        super().__init__()
        params, _ = stack_module_state([model.net.eval() for model in models])
        self.names = list(params)
        self.stacked = nn.ParameterList(nn.Parameter(params[n].detach()) for n in self.names)
        self.template = [models[0].net.to("meta")]  # a list: not registered as a submodule
        self.criterion = models[0].criterion

    def forward(self, x: Tensor) -> Tensor:
        params = dict(self.named_member_parameters())
        in_x = 0 if x.dim() == 3 else None
        call = partial(functional_call, self.template[0])
        return vmap(lambda p, xs: call(p, (xs,)), in_dims=(0, in_x))(params, x)

    def losses(self, pred: Tensor, y: Tensor) -> Tensor:
        return vmap(self.criterion, in_dims=(0, 0 if y.dim() == 3 else None))(pred, y)

    def loss_and_gradients(self, x: Tensor, y: Tensor) -> Tensor:
        for param in self.stacked:
            param.grad = None
        with torch.enable_grad():
            losses = self.losses(self(x), y)
            losses.sum().backward()  # members are independent: each gets its own gradient
        return losses.detach()

    def named_member_parameters(self):
        """(name, stacked parameter) under the ordinary network's names (`0.weight`, ...)."""
        return zip(self.names, self.stacked, strict=True)


def stack_members(models: list) -> ScratchStack | VmapStack:
    """The members' models (one class, one architecture) as one stacked network."""
    return ScratchStack(models) if isinstance(models[0], ScratchModule) else VmapStack(models)
