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
# A loss that needs a particular output activation: the probabilities it is defined on.
LOSS_OUTPUT = {"bce": "sigmoid", "cross_entropy": "softmax"}


@dataclass(frozen=True)
class Architecture:
    """Layer sizes, activations, initialisation, loss and optimizer of one network."""

    n_inputs: int = 0
    n_outputs: int = 0
    hidden: tuple[int, ...] = ()
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

    @classmethod
    def model_keys(cls) -> list[str]:
        """The `model.*` keys: every field but the sizes the data decides."""
        return [f.name for f in fields(cls) if f.name not in ("n_inputs", "n_outputs")]

    @classmethod
    def from_config(cls, model: Any, n_inputs: int = 0, n_outputs: int = 0) -> Architecture:
        """From `cfg.model` (or any mapping holding the keys); lists become tuples."""
        values = {key: model[key] for key in cls.model_keys() if key in model}
        for key in ("hidden", "betas"):
            if key in values and not isinstance(values[key], (str, Real)):
                values[key] = tuple(values[key])
        return cls(n_inputs=n_inputs, n_outputs=n_outputs, **values)

    @property
    def sizes(self) -> list[int]:
        return [self.n_inputs, *self.hidden, self.n_outputs]

    def check(self) -> None:
        """Raise a `ConfigError` naming the first key whose value is not allowed."""
        _positive("model.lr", self.lr)
        _positive("model.init_std", self.init_std)
        _positive("model.eps", self.eps)
        if not isinstance(self.hidden, tuple) or not all(_is_int(h) and h > 0 for h in self.hidden):
            shown = list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden
            raise ConfigError(
                f"model.hidden={shown} is not allowed: "
                "use a list of positive widths, e.g. [4], or [] for one neuron"
            )
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

    def hparams(self) -> dict[str, Any]:
        """The flat row TensorBoard's HParams tab compares runs by."""
        row = {key: getattr(self, key) for key in self.model_keys()}
        row["hidden"] = str(list(self.hidden))
        row["betas"] = str(list(self.betas))
        return row

    def init_args(self) -> dict[str, Any]:
        """Plain values (lists, not tuples) as the modules save them in checkpoints."""
        values = asdict(self)
        values["hidden"], values["betas"] = list(self.hidden), list(self.betas)
        return values

    def describe(self) -> str:
        return f"{'-'.join(map(str, self.sizes))} bias={self.bias}"


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
