"""Swept values as the report sorts and shows them: numbers first, integral ones as integers,
`mean ± std` to the spread's digits."""

from __future__ import annotations

import math
import numbers
from typing import Any

CURVE_TAGS = ("val/loss", "train/loss")  # the learning curves drawn over replicates


def is_number(value: Any) -> bool:
    """A real number, neither NaN nor a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def sort_key(value: Any) -> tuple:
    """Numbers first, by value; then everything else by its text."""
    return (0, float(value), "") if is_number(value) else (1, 0.0, str(value))


def show(value: Any, exact: bool = False) -> str:
    """A value as a person reads it: integral numbers as integers, others to 4 digits (or all of
    them, `exact`, as in an override to copy)."""
    if is_number(value):
        integral = float(value).is_integer() and abs(value) < 1e15
        return str(int(value)) if integral else str(value) if exact else f"{value:.4g}"
    return "" if value is None or value != value else str(value)  # None, NaN: empty


def plus_minus(mean: float, std: float, digits: int = 2) -> str:
    """'0.182 ± 0.010': the spread to `digits` significant digits, the mean to as many places."""
    if math.isnan(mean) or math.isnan(std):
        return show(mean)
    places = digits - 1 - math.floor(math.log10(std)) if 0 < std < math.inf else -1
    if not 0 <= places <= 6:
        return f"{show(mean)} ± {std:.{digits}g}"
    return f"{mean:.{places}f} ± {std:.{places}f}"
