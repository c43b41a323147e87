"""The model keys both models take (`conf/model/_architecture.yaml`) and the names they may hold.

Torch-free: the config checks read it before anything heavy is imported, the two layer sets
(`core/layers.py`, `models/mlp.py`) key their classes by these names (an activation may also be
a dotted path to a class of the user's own: `experiments.layer_paths`), and checkpoints,
TensorBoard's HParams and error messages describe a model through `Architecture`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from numbers import Real
from typing import Any

from experiments.errors import ConfigError
from experiments.layer_paths import is_layer_path

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")
OUTPUT_ONLY_ACTIVATIONS = ("softmax",)
LOSSES = ("mse", "bce", "cross_entropy")
INITS = ("default", "normal", "xavier")
OPTIMIZERS = ("sgd", "momentum", "adam")
POOLS = ("max", "avg", "none")
# Sizes the data decides, not `model.*` keys: the input width, the output width, and the
# (channels, height, width) of an image input (`()` for a table's rows).
DATA_SIZES = ("n_inputs", "n_outputs", "image_shape")
# A loss that needs a particular output activation: the probabilities it is defined on.
LOSS_OUTPUT = {"bce": "sigmoid", "cross_entropy": "softmax"}


@dataclass(frozen=True)
class Architecture:
    """Layer sizes, activations, initialisation, loss and optimizer of one network."""

    n_inputs: int = 0
    n_outputs: int = 0
    # Widths of the dense hidden layers, each a Linear and `activation`; an entry may instead be
    # a dotted path to a layer of the user's own (`my_layers.Norm`), put in the chain there.
    hidden: tuple[int | str, ...] = ()
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    bias: bool = True
    init: str = "default"
    init_std: float = 1.0
    loss: str = "mse"
    lr: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    # Convolution blocks before the dense layers (core/convnet.py): one per entry of `channels`,
    # each conv -> activation -> pool; `channels=()` is a dense network.
    image_shape: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    kernel_size: int = 3
    stride: int = 1
    padding: int = 0
    pool: str = "max"
    pool_size: int = 2

    @classmethod
    def model_keys(cls) -> list[str]:
        """The `model.*` keys: every field but the sizes the data decides."""
        return [f.name for f in fields(cls) if f.name not in DATA_SIZES]

    @classmethod
    def from_config(
        cls, model: Any, n_inputs: int = 0, n_outputs: int = 0, image_shape: Any = None
    ) -> Architecture:
        """From `cfg.model` (or any mapping holding the keys); lists become tuples. The image
        shape, when not given, is `model`'s own `image_shape` if it holds one (a model's
        keyword arguments and a checkpoint's hyper-parameters do)."""
        values = {key: model[key] for key in cls.model_keys() if key in model}
        for key in ("hidden", "betas", "channels"):
            if key in values and not isinstance(values[key], (str, Real)):
                values[key] = tuple(values[key])
        if image_shape is None:
            image_shape = model.get("image_shape") if hasattr(model, "get") else None
        shape = tuple(image_shape or ())
        return cls(n_inputs=n_inputs, n_outputs=n_outputs, image_shape=shape, **values)

    @property
    def sizes(self) -> list[int]:
        """Widths of the dense layers: their input (the flattened convolution output, for a
        convnet), the hidden layers, the output."""
        inputs = math.prod(self.feature_shapes()[-1]) if self.channels else self.n_inputs
        return [inputs, *self.widths, self.n_outputs]

    @property
    def widths(self) -> tuple[int, ...]:
        """The hidden layers' widths: `hidden` without the user's layers."""
        return tuple(h for h in self.hidden if not is_layer_path(h))

    @property
    def layer_paths(self) -> dict[str, str]:
        """Each key naming a layer of the user's own and its dotted path, the hidden entries
        as `model.hidden[i]`."""
        named = {f"model.{k}": getattr(self, k) for k in ("activation", "output_activation")}
        if isinstance(self.hidden, tuple):
            named |= {f"model.hidden[{i}]": h for i, h in enumerate(self.hidden)}
        return {key: name for key, name in named.items() if is_layer_path(name)}

    def feature_shapes(self) -> list[tuple[int, int, int]]:
        """(channels, height, width) of the image, then after each convolution block; a
        `ConfigError` where the keys do not fit the data's image."""
        if len(self.image_shape) != 3:
            raise ConfigError(
                f"model.channels={list(self.channels)} needs image inputs (e.g. data=digits, "
                f"1x8x8): this data gives rows of {self.n_inputs} features; use model.channels=[]"
            )
        k, s, p, size = self.kernel_size, self.stride, self.padding, self.pool_size
        shapes = [self.image_shape]
        for block, out in enumerate(self.channels, 1):
            _, h, w = shapes[-1]
            if k > min(h, w) + 2 * p:
                raise ConfigError(
                    f"model.kernel_size={k} is larger than block {block}'s {h}x{w} input padded "
                    f"by model.padding={p}: use a smaller kernel_size, more padding or fewer "
                    "model.channels"
                )
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if self.pool != "none":
                if size > min(h, w):
                    raise ConfigError(
                        f"model.pool_size={size} leaves nothing of block {block}'s {h}x{w} "
                        "convolution output: use a smaller pool_size, model.pool=none or fewer "
                        "model.channels"
                    )
                h, w = h // size, w // size
            shapes.append((out, h, w))
        return shapes

    def check(self) -> None:
        """Raise a `ConfigError` naming the first key whose value is not allowed."""
        _positive("model.lr", self.lr)
        _positive("model.init_std", self.init_std)
        _positive("model.eps", self.eps)
        if not isinstance(self.hidden, tuple) or not all(
            (_is_int(h) and h > 0) or is_layer_path(h) for h in self.hidden
        ):
            shown = list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden
            raise ConfigError(
                f"model.hidden={shown} is not allowed: use a list of positive widths, e.g. [4], "
                "or [] for one neuron (an entry may be a layer of your own: my_layers.Norm)"
            )
        self._check_convolution()
        hidden_names = tuple(a for a in ACTIVATIONS if a not in OUTPUT_ONLY_ACTIVATIONS)
        _activation("model.activation", self.activation, hidden_names)
        _activation("model.output_activation", self.output_activation, ACTIVATIONS)
        _one_of("model.loss", self.loss, LOSSES)
        _one_of("model.init", self.init, INITS)
        _one_of("model.optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.bias, bool):
            raise ConfigError(f"model.bias={self.bias!r} is not allowed: use true or false")
        needed = LOSS_OUTPUT.get(self.loss)
        if needed and self.output_activation != needed:
            raise ConfigError(
                f"model.loss={self.loss} needs model.output_activation={needed} "
                f"(it is {self.output_activation})"
            )
        _fraction("model.momentum", self.momentum)
        if not isinstance(self.betas, tuple) or len(self.betas) != 2:
            raise ConfigError(f"model.betas={list(self.betas)} is not allowed: use [b1, b2]")
        for beta in self.betas:
            _fraction("model.betas", beta)
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ConfigError(
                f"model.weight_decay={self.weight_decay!r} is not allowed: use a number >= 0"
            )

    def _check_convolution(self) -> None:
        """The convolution keys' own values; how they fit the image is `feature_shapes`'."""
        if not isinstance(self.channels, tuple) or not all(
            _is_int(c) and c > 0 for c in self.channels
        ):
            shown = list(self.channels) if isinstance(self.channels, tuple) else self.channels
            raise ConfigError(
                f"model.channels={shown} is not allowed: use a list of positive channel counts, "
                "one convolution block each, e.g. [8, 16], or [] for none"
            )
        for key in ("kernel_size", "stride", "pool_size"):
            if not _is_int(value := getattr(self, key)) or value < 1:
                raise ConfigError(f"model.{key}={value!r} is not allowed: use a positive integer")
        if not _is_int(self.padding) or self.padding < 0:
            raise ConfigError(f"model.padding={self.padding!r} is not allowed: use an integer >= 0")
        _one_of("model.pool", self.pool, POOLS)
        if self.channels and self.image_shape:
            self.feature_shapes()

    def hparams(self) -> dict[str, Any]:
        """The flat row TensorBoard's HParams tab compares runs by."""
        row = {key: getattr(self, key) for key in self.model_keys()}
        row["hidden"] = str(list(self.hidden))
        row["betas"] = str(list(self.betas))
        row["channels"] = str(list(self.channels))
        return row

    def init_args(self) -> dict[str, Any]:
        """Plain values (lists, not tuples) as the modules save them in checkpoints."""
        values = asdict(self)
        for key in ("hidden", "betas", "channels", "image_shape"):
            values[key] = list(values[key])
        return values

    def layout(self) -> str:
        """`64-32-10`; a convnet's leads with its blocks: `1x8x8 conv[8] k3 max2 -> 72-32-10`;
        a layer of the user's own among the hidden ones shows in brackets: `2-4-(my.Norm)-1`."""
        hidden = [f"({h})" if is_layer_path(h) else str(h) for h in self.hidden]
        dense = "-".join([str(self.sizes[0]), *hidden, str(self.n_outputs)])
        if not self.channels:
            return dense
        image = "x".join(map(str, self.image_shape))
        pool = "" if self.pool == "none" else f" {self.pool}{self.pool_size}"
        steps = f"{f' s{self.stride}' if self.stride != 1 else ''}"
        steps += f"{f' p{self.padding}' if self.padding else ''}"
        return f"{image} conv{list(self.channels)} k{self.kernel_size}{steps}{pool} -> {dense}"

    def describe(self) -> str:
        return f"{self.layout()} bias={self.bias}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)  # type: ignore[arg-type]
    )


def _positive(key: str, value: object) -> None:
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise ConfigError(f"{key}={value!r} is not allowed: use a positive number")


def _fraction(key: str, value: object) -> None:
    if not _is_number(value) or not 0 <= value < 1:  # type: ignore[operator]
        raise ConfigError(f"{key}={value!r} is not allowed: use a number in [0, 1)")


def _one_of(key: str, value: object, allowed: tuple[str, ...], extra: str = "") -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is unknown: choose one of {', '.join(allowed)}{extra}")


def _activation(key: str, value: object, allowed: tuple[str, ...]) -> None:
    """A built-in name, or a layer of the user's own as module.Class (see layer_paths)."""
    if not is_layer_path(value):
        _one_of(key, value, allowed, ", or a layer of your own as module.Class (my_layers.Swish)")
