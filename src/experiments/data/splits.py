"""Row indices of the three splits, torch-free, and the fewest rows they need.

Test: `test_size` of the rows, random_state `split_seed` (the heart lesson's 61 rows). Validation:
`val_size` of the remaining rows, stratified by class when every class can be (classification),
else random. Training: the rest. Indices are split, not the table, so the table's rows are
copied once.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.errors import ConfigError


def split_sizes(n: int, test_size: float, val_size: float) -> tuple[int, int, int]:
    """(train, validation, test) row counts for n rows, as scikit-learn rounds them."""
    n_test = math.ceil(test_size * n)
    n_val = math.ceil(val_size * (n - n_test))
    return n - n_test - n_val, n_val, n_test


def minimum_rows(test_size: float, val_size: float) -> int:
    """The fewest rows that leave two training rows, two validation rows and one test row."""
    n = 3
    while True:
        train, val, test = split_sizes(n, test_size, val_size)
        if train >= 2 and val >= 2 and test >= 1:
            return n
        n += 1


def check_fractions(test_size: float, val_size: float) -> None:
    for key, value in (("data.test_size", test_size), ("data.val_size", val_size)):
        if not isinstance(value, float) or not 0 < value < 1:
            raise ConfigError(f"{key}={value!r} is not allowed: use a fraction between 0 and 1")


def test_split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(the other rows, the test rows) of n rows: the held-out test split, as the lesson cuts it."""
    from sklearn.model_selection import train_test_split

    fit, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed)
    return fit, test


def split_indices(
    codes: np.ndarray, classes: int, test_size: float, val_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices; `classes` = 0 for regression (no stratification)."""
    from sklearn.model_selection import train_test_split

    fit, test = test_split(len(codes), test_size, seed)
    stratify = None
    if classes:
        counts = np.bincount(codes[fit].astype(np.int64), minlength=classes)
        _, n_val, _ = split_sizes(len(fit), 0.0, val_size)
        present = int((counts > 0).sum())
        if counts[counts > 0].min() >= 2 and min(n_val, len(fit) - n_val) >= present:
            stratify = codes[fit]
    train, val = train_test_split(fit, test_size=val_size, random_state=seed, stratify=stratify)
    return train, val, test
