"""The lesson's layers (`experiments.core.layers`) as the scratch run builds them: the same
classes and arithmetic, with what `forward` caches for `backward` set as a plain attribute.

nn.Module's `__setattr__` asks of every value whether it is a parameter, a buffer or a submodule
before storing it; on a lesson network's tiny tensors that bookkeeping costs more than the layer's
arithmetic (~10 % of an XOR 2-4-1 update). A cache is a plain tensor, never a Parameter, so it can
skip it. Patching a core layer (a broken `backward` in a test) patches these too: they inherit.
"""

from __future__ import annotations

from torch import Tensor, nn

from experiments.core import layers


class PlainCaches(nn.Module):
    """Plain tensors set on the layer (its caches) skip nn.Module's bookkeeping."""

    def __setattr__(self, name: str, value: object) -> None:
        if type(value) is Tensor:  # not a Parameter
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)


class Linear(PlainCaches, layers.Linear):
    __doc__ = layers.Linear.__doc__


class Sigmoid(PlainCaches, layers.Sigmoid):
    __doc__ = layers.Sigmoid.__doc__


class Tanh(PlainCaches, layers.Tanh):
    __doc__ = layers.Tanh.__doc__


class ReLU(PlainCaches, layers.ReLU):
    __doc__ = layers.ReLU.__doc__


class Softmax(PlainCaches, layers.Softmax):
    __doc__ = layers.Softmax.__doc__


# Identity caches nothing.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    **layers.ACTIVATIONS,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "softmax": Softmax,
}
