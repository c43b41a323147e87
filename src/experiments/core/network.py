"""One `Architecture`, built either from scratch layers or from `torch.nn`.

Both builds draw their initial weights with the same calls in the same order, so the same seed
gives both models identical starting weights, and their state_dict keys match (`0.weight`, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from experiments.architecture import INITS, Architecture
from experiments.core.convnet import ConvLayers, conv_blocks
from experiments.core.user_layers import layer_class, user_layer
from experiments.layer_paths import is_layer_path


def init_linear_(
    weight: torch.Tensor, bias: torch.Tensor | None, scheme: str, std: float = 1.0
) -> None:
    """Fill a linear (or convolution) layer's parameters in place; fan_in is one output's
    inputs: in_features, or in_channels x kernel height x kernel width.

    default: torch.nn.Linear's own, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    normal:  N(0, std) for both, as the lessons' `torch.randn` (std=1).
    xavier:  Glorot-uniform weight, zero bias.
    """
    fan_in = weight[0].numel()
    with torch.no_grad():
        if scheme == "default":
            bound = 1 / math.sqrt(fan_in)
            weight.uniform_(-bound, bound)
            if bias is not None:
                bias.uniform_(-bound, bound)
        elif scheme == "normal":
            weight.normal_(0.0, std)
            if bias is not None:
                bias.normal_(0.0, std)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(weight)
            if bias is not None:
                bias.zero_()
        else:
            raise ValueError(f"unknown init {scheme!r}: choose one of {', '.join(INITS)}")


def build_network(
    arch: Architecture,
    linear: Callable[[int, int, bool], nn.Module],
    activations: dict[str, type[nn.Module]],
    container: type[nn.Sequential],
    conv: ConvLayers | None = None,
) -> nn.Sequential:
    """Linear, activation, linear, activation, ...; the last activation is `output_activation`.
    With `arch.channels`, `conv`'s blocks come first (core/convnet.py); a `model.hidden` entry
    that names a layer of the user's own puts that layer at its place in the chain."""
    layers: list[nn.Module] = []
    if arch.channels:
        if conv is None:
            raise ValueError("model.channels: this network has no convolution layers")

        def init(layer: nn.Module) -> None:
            init_linear_(layer.weight, layer.bias, arch.init, arch.init_std)

        layers = conv_blocks(arch, conv, activations, init)
        container = conv.container
    fan_in = arch.sizes[0]
    entries = (*arch.hidden, arch.n_outputs)
    for i, entry in enumerate(entries):
        if is_layer_path(entry):  # a layer of the user's own, in the chain where it is named
            layers.append(user_layer(f"model.hidden[{i}]", entry)())
            continue
        layer = linear(fan_in, entry, arch.bias)
        init_linear_(layer.weight, layer.bias, arch.init, arch.init_std)
        layers += [layer, layer_class(activations, arch, is_last=i == len(entries) - 1)()]
        fan_in = entry
    return container(*layers)
