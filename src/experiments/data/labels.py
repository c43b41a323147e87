"""The label column decides the task (`data.task=auto`), torch-free: binary, multiclass or
regression, the class names, and each row's class index (or value).

auto: two distinct values (numbers or text) -> binary; text, or whole numbers with at most
`data.max_classes` distinct values -> multiclass; other numbers -> regression. Class names are
the distinct values in sorted order (numbers by value), as text; a binary task's class 1 is the
second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.data.cells import number_text
from experiments.errors import DataError

TASK_NAMES = ("auto", "binary", "multiclass", "regression")


@dataclass(frozen=True)
class Labels:
    task: str
    codes: np.ndarray  # float64, one per row: the class index, or the value (regression)
    classes: list[str] | None  # class names (classification)
    decision: str  # the one line a run logs about it


def read_labels(values: pd.Series, text: bool, task: str, max_classes: int, source: str) -> Labels:
    """The task `task` (or, for auto, the label column) asks for; a `DataError` when the column
    cannot be that task."""
    column = values.name
    distinct = pd.unique(values.to_numpy())
    distinct = np.sort(distinct.astype(str if text else np.float64))
    kind = "text values" if text else "numbers"
    shown = _shown(_names(distinct[:6]))
    if len(distinct) < 2:
        raise DataError(
            f"{source}: column {column!r} holds one value only ({shown}): a model needs at least "
            "two classes (or varying numbers) to learn from; check data.target"
        )
    whole = not text and bool(np.all(distinct == np.round(distinct)))
    chosen = task
    if task == "auto":
        if len(distinct) == 2:
            chosen = "binary"
        elif text or (whole and len(distinct) <= max_classes):
            chosen = "multiclass"
        else:
            chosen = "regression"
    _check_fits(chosen, column, len(distinct), text, max_classes, source, shown)
    decision = (
        f"data.task={task}: column {column!r} holds {len(distinct)} distinct {kind} "
        f"({shown}): {chosen}"
    )
    if chosen == "regression":
        return Labels(chosen, values.to_numpy(np.float64), None, decision)
    codes = np.searchsorted(distinct, values.to_numpy().astype(distinct.dtype))
    return Labels(chosen, codes.astype(np.float64), _names(distinct), decision)


def _check_fits(
    task: str, column: str, n: int, text: bool, max_classes: int, source: str, shown: str
) -> None:
    if task == "binary" and n != 2:
        raise DataError(
            f"{source}: data.task=binary needs two distinct values in column {column!r}, "
            f"it holds {n} ({shown}): use data.task=multiclass or data.task=auto"
        )
    if task == "multiclass" and n > max_classes:
        hint = "use data.task=regression, or " if not text else ""
        raise DataError(
            f"{source}: column {column!r} holds {n} distinct values ({shown}), more classes than "
            f"data.max_classes={max_classes}: {hint}raise data.max_classes, or check data.target"
        )
    if task == "regression" and text:
        raise DataError(
            f"{source}: data.task=regression needs numbers, and column {column!r} holds text "
            f"({shown}): use data.task=multiclass or data.task=auto"
        )


def _names(distinct: np.ndarray) -> list[str]:
    return [v if isinstance(v, str) else number_text(v) for v in distinct.tolist()]


def _shown(names: list[str], count: int = 5) -> str:
    return ", ".join(names[:count]) + (", ..." if len(names) > count else "")
