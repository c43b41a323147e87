"""What a classification table's classes allow, torch-free: a class too small to reach both the
training and the test rows is refused (`check_class_sizes`); a split whose labels are all one class
is named (`single_class_splits`), so that a perfect score on it is not mistaken for learning."""

from __future__ import annotations

import numpy as np

from experiments.errors import DataError

FEWEST = 2  # one row to train on, one to test on


def check_class_sizes(codes: np.ndarray, classes: list[str], column: str, source: str) -> None:
    """A `DataError` naming the smallest class, its row count and the fix, if it has fewer than
    `FEWEST` rows."""
    counts = np.bincount(codes.astype(np.int64), minlength=len(classes))
    small = [(int(n), name) for n, name in zip(counts, classes, strict=True) if n < FEWEST]
    if not small:
        return
    n, name = min(small)
    others = f" (and {len(small) - 1} more)" if len(small) > 1 else ""
    raise DataError(
        f"{source}: class {name!r} of column {column!r} has {n} row{'s' * (n != 1)}{others}: a "
        f"class needs at least {FEWEST} (one to train on, one to test on); add rows of it, or "
        "remove its rows (or merge it into another class)"
    )


def single_class_splits(
    codes: np.ndarray, classes: list[str], splits: dict[str, np.ndarray]
) -> dict[str, str]:
    """{split: its one class} for each split (by name -> row indices) whose labels are all one
    class."""
    found = {}
    for split, rows in splits.items():
        present = np.unique(codes[rows].astype(np.int64))
        if len(rows) and len(present) == 1:
            found[split] = classes[int(present[0])]
    return found
