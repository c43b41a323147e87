"""Input scaling fitted on training rows; it travels in checkpoints as plain lists.

Target scaling belongs to the task (`experiments.tasks`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.errors import ConfigError

SCALINGS = ("none", "standard", "max")


@dataclass
class Scaler:
    """x_model = (x_raw - offset) / scale."""

    offset: list[float]
    scale: list[float]
    feature_names: list[str]

    @classmethod
    def fit(cls, x_train: np.ndarray, scaling: str, feature_names: list[str]) -> Scaler:
        n = x_train.shape[1]
        if scaling == "none":
            offset, scale = np.zeros(n), np.ones(n)
        elif scaling == "standard":  # StandardScaler's mean_ and scale_, in two numpy passes
            offset, scale = x_train.mean(axis=0), x_train.std(axis=0)
            # A constant column (to rounding) stays as it is, as StandardScaler does.
            scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
        elif scaling == "max":
            from sklearn.preprocessing import MaxAbsScaler

            offset, scale = np.zeros(n), MaxAbsScaler().fit(x_train).scale_
        else:
            raise ConfigError(
                f"data.scaling={scaling!r} is unknown: choose one of {', '.join(SCALINGS)}"
            )
        return cls(offset.tolist(), scale.tolist(), feature_names)

    @property
    def n_features(self) -> int:
        return len(self.offset)

    def inputs(self, x_raw: Any) -> Tensor:
        # Scaled in float64, then float32: a scale below float32's range stays a number.
        x = torch.tensor(np.asarray(x_raw, dtype=np.float64))  # a copy: scaled in place
        offset = torch.tensor(self.offset, dtype=torch.float64)
        scale = torch.tensor(self.scale, dtype=torch.float64)
        return x.sub_(offset).div_(scale).float()

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scaler:
        return cls(**state)
