"""The layer a name in `model.activation` / `model.output_activation` stands for: a built-in one
from the registry the network is built with, or the user's own class (`my_layers.Swish`), which
may also stand as an entry of `model.hidden` (`[16, my_layers.Norm, 8]`).

The user's class is wrapped as the same `UserLayer` in both networks: the scratch chain calls its
`backward`, autograd differentiates through its `forward` (torch ops), so `compare=true` and
`scripts/gradcheck.py` check the user's backward against autograd with no extra work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from torch import Tensor, nn

from experiments.architecture import Architecture
from experiments.layer_paths import import_layer_class, is_layer_path


class UserLayer(nn.Module):
    """An instance of the user's class, by its dotted `name`. It holds no parameters of its own:
    an `nn.Module` class's parameters show under `<i>.layer.` in both networks alike."""

    def __init__(self, layer_class: type, name: str) -> None:
        super().__init__()
        self.name = name
        self.layer = layer_class()

    def forward(self, z: Tensor) -> Tensor:
        return self.layer.forward(z)

    def backward(self, grad: Tensor) -> Tensor:
        return self.layer.backward(grad)

    def extra_repr(self) -> str:
        return self.name


def layer_class(
    registry: dict[str, Callable[[], nn.Module]], arch: Architecture, is_last: bool
) -> Callable[[], nn.Module]:
    """What builds the activation after a linear layer: the output one after the last."""
    key = "output_activation" if is_last else "activation"
    name = getattr(arch, key)
    return user_layer(f"model.{key}", name) if is_layer_path(name) else registry[name]


def user_layer(key: str, name: str) -> Callable[[], UserLayer]:
    """What builds the user's layer `name`, which config `key` names (for its errors)."""
    return partial(UserLayer, import_layer_class(key, name), name)


def suspect_user_layers(net: Iterable[nn.Module], failing: Iterable[str]) -> list[str]:
    """`my_layers.Swish (layer 1)` for each user layer whose backward the `failing` parameters'
    wrong gradients (`0.weight`, ...) point to: those after the one nearest the loss, up to the
    next layer with parameters (whose gradients, computed first, passed)."""
    last = max((int(name.split(".")[0]) for name in failing), default=None)
    found = []
    for i, layer in enumerate(net):
        if last is None or i <= last:
            continue
        if isinstance(layer, UserLayer):
            found.append(f"{layer.name} (layer {i})")
        if any(True for _ in layer.parameters()):
            break
    return found
