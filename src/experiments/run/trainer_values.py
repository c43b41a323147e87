"""The values each Trainer argument takes (`run.trainer_keys`): predicates on what the config
holds, YAML scalars and containers, before Lightning sees them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

Check = Callable[[Any], bool]

PROFILERS = ("simple", "advanced", "pytorch", "xla", "passthrough")
TIME_UNITS = ("days", "hours", "minutes", "seconds")


def shown(value: Any) -> str:
    """A value as the config checks show it: true, null, 0.5, 'simple'."""
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_fraction(value: Any) -> bool:
    """A float in (0, 1]: a share of an epoch's batches."""
    return isinstance(value, float) and math.isfinite(value) and 0 < value <= 1


def anything(value: Any) -> bool:
    return True


def nothing(value: Any) -> bool:
    return False


def none(value: Any) -> bool:
    return value is None


def false(value: Any) -> bool:
    return value is None or value is False


def zero(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and value == 0)


def equals(default: int) -> Check:
    return lambda value: value is None or (is_int(value) and value == default)


def int_at_least(low: int, none: bool = False) -> Check:
    return lambda value: (none and value is None) or (is_int(value) and value >= low)


def boolean(value: Any) -> bool:
    return isinstance(value, bool)


def flag(value: Any) -> bool:
    return value is None or isinstance(value, bool)


def count_or_bool(value: Any) -> bool:
    return isinstance(value, bool) or (is_int(value) and value >= 0)


def epoch_limit(value: Any) -> bool:
    """`max_epochs`: null, -1 (no limit) or a positive count."""
    return value is None or (is_int(value) and (value == -1 or value > 0))


def max_steps(value: Any) -> bool:
    return is_int(value) and (value == -1 or value > 0)


def limit(value: Any) -> bool:
    """`limit_train_batches`: null, a fraction of the epoch, or a positive count of batches."""
    return value is None or is_fraction(value) or (is_int(value) and value > 0)


def interval(value: Any) -> bool:
    """`val_check_interval`: a fraction of an epoch, or a positive number of steps."""
    return is_fraction(value) or (is_int(value) and value > 0)


def whole_split(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and value in (1, 1.0))


def no_clip(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and value == 0)


def deterministic(value: Any) -> bool:
    return value is None or isinstance(value, bool) or value == "warn"


def profiler(value: Any) -> bool:
    """A profiler by name, or one Hydra builds (`{_target_: ...}`)."""
    if isinstance(value, DictConfig):
        return "_target_" in value
    return value is None or value in PROFILERS


def max_time(value: Any) -> bool:
    """Lightning's forms: "DD:HH:MM:SS" or a dict of days, hours, minutes, seconds."""
    if value is None:
        return True
    if isinstance(value, str):
        return re.fullmatch(r"\d+:\d+:\d+:\d+", value) is not None
    if isinstance(value, DictConfig):
        return bool(value) and all(
            key in TIME_UNITS and isinstance(n, (int, float)) and not isinstance(n, bool)
            for key, n in value.items()
        )
    return False
