"""The convolution blocks of a convnet, before `core/network.py`'s dense layers.

The data modules give flat rows (N, C·H·W); the network's first layer reshapes them to images
(N, C, H, W), then one block per entry of `model.channels`: convolution -> activation -> pooling
(`model.pool`: max, avg or none), and a Flatten hands (N, C'·H'·W') to the dense layers:

    Unflatten(C, H, W), Conv2d, act, Pool, Conv2d, act, Pool, ..., Flatten, Linear, act, ...

Both models build this list from their own classes (`ConvLayers`): `torch.nn`'s, or the scratch
ones (core/conv.py, core/pooling.py) with the same parameter names and shapes, so the state_dict
keys match (`1.weight` is the first convolution's kernels) and a scratch `weights.pth` loads into
a plain `torch.nn.Sequential` of the torch layers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from experiments.architecture import Architecture
from experiments.core.layers import Sequential


@dataclass(frozen=True)
class ConvLayers:
    """One model's classes for the convolution part. `conv(in, out, kernel, stride, padding,
    bias)` must not draw from the RNG: the build draws every initial weight itself."""

    unflatten: Callable[[tuple[int, ...]], nn.Module]
    conv: Callable[[int, int, int, int, int, bool], nn.Module]
    pools: dict[str, Callable[[int], nn.Module]]
    flatten: Callable[[], nn.Module]
    container: type[nn.Sequential]


def conv_blocks(
    arch: Architecture,
    layers: ConvLayers,
    activations: dict[str, Callable[[], nn.Module]],
    initialise: Callable[[nn.Module], None] | None,
) -> list[nn.Module]:
    """Unflatten, then conv -> activation -> pool per `arch.channels`, then Flatten. Each
    convolution is initialised (`initialise`) as it is made, in network order."""
    shapes = arch.feature_shapes()  # a ConfigError where the keys do not fit the image
    blocks: list[nn.Module] = [layers.unflatten(arch.image_shape)]
    for (fan_in, *_), (fan_out, *_) in itertools.pairwise(shapes):
        conv = layers.conv(fan_in, fan_out, arch.kernel_size, arch.stride, arch.padding, arch.bias)
        if initialise is not None:
            initialise(conv)
        blocks += [conv, activations[arch.activation]()]
        if arch.pool != "none":
            blocks.append(layers.pools[arch.pool](arch.pool_size))
    return [*blocks, layers.flatten()]


class Unflatten(nn.Module):
    """(N, C·H·W) -> (N, C, H, W), as `torch.nn.Unflatten(1, (C, H, W))`; backward reshapes the
    gradient back to rows."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.shape)

    def backward(self, grad: Tensor, input_grad: bool = True) -> Tensor | None:
        return grad.reshape(len(grad), -1) if input_grad else None


class ImageSequential(Sequential):
    """A scratch convnet: as `Sequential`, but its first layer only reshapes the data, so the
    first convolution is the one whose input needs no gradient (its col2im is skipped)."""

    def backward(self, grad: Tensor) -> None:
        _unflatten, first, *rest = self
        for layer in reversed(rest):
            grad = layer.backward(grad)
        first.backward(grad, input_grad=False)
