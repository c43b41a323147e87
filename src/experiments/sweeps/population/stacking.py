"""The members' scratch networks (one architecture) as one network with a leading member
dimension on every weight: dense layers (`layers.py`) and convolution blocks (`conv_layers.py`)
under the ordinary network's parameter names (`0.weight`, `1.weight`, ...)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.core.conv import Conv2d, Flatten
from experiments.core.convnet import ImageSequential, Unflatten
from experiments.core.layers import Linear, Sequential
from experiments.core.pooling import AvgPool2d, MaxPool2d
from experiments.sweeps.population.conv_layers import (
    MemberAvgPool2d,
    MemberConv2d,
    MemberFlatten,
    MemberMaxPool2d,
    MemberUnflatten,
)
from experiments.sweeps.population.layers import MemberLinear, MemberSequential


class MemberImageSequential(Sequential):
    """A population of convnets: its first layer only reshapes the data, so the first
    convolution is the one whose input needs no gradient (as `core.convnet.ImageSequential`)."""

    def backward(self, grad: Tensor) -> None:
        _unflatten, first, *rest = self
        for layer in reversed(rest):
            grad = layer.backward(grad)
        first.backward(grad, input_grad=False)


def member_layer(layer: nn.Module, members: int, data_input: bool) -> nn.Module:
    """`layer`'s member-shaped twin (its parameters left empty); `data_input`: it is the first
    layer with parameters, so its input is the data."""
    if isinstance(layer, Linear):
        return MemberLinear(
            members, layer.weight.shape[1], len(layer.weight), layer.bias is not None
        )
    if isinstance(layer, Conv2d):
        out, cin = layer.weight.shape[:2]
        return MemberConv2d(
            members,
            cin,
            out,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.bias is not None,
            data_input=data_input,
        )
    pools = {MaxPool2d: MemberMaxPool2d, AvgPool2d: MemberAvgPool2d}
    if type(layer) in pools:
        return pools[type(layer)](layer.kernel_size, layer.stride)
    if isinstance(layer, Unflatten):
        return MemberUnflatten(layer.shape)
    if isinstance(layer, Flatten):
        return MemberFlatten(members)
    return type(layer)()  # an activation: element-wise, or (Softmax) over the last dimension


def stack_networks(nets: list[Sequential]) -> Sequential:
    """The members' networks as one, their weights stacked under the same names."""
    members, layers = len(nets), []
    for layer in nets[0]:
        data_input = not any(any(True for _ in done.parameters()) for done in layers)
        layers.append(member_layer(layer, members, data_input))
    container = MemberImageSequential if isinstance(nets[0], ImageSequential) else MemberSequential
    net = container(*layers).to(next(nets[0].parameters()).dtype)  # the members' precision
    states = [member.state_dict() for member in nets]
    with torch.no_grad():
        for name, param in net.named_parameters():
            param.copy_(torch.stack([state[name] for state in states]))
    return net
