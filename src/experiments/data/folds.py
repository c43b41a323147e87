"""K-fold cross-validation of the rows outside the test split, torch-free.

`data.folds=K` cuts the non-test rows into K folds (stratified by class when every class has K
rows, else at random), with `data.split_seed` as the random state; `data.fold=i` validates on
fold i and trains on the others. The test split is the one `split_indices` holds out, so it is
the same in every fold and never seen by the choice of hyperparameters.
"""

from __future__ import annotations

import numpy as np

from experiments.data.splits import test_split
from experiments.errors import ConfigError, DataError


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_folds(folds: object, fold: object) -> None:
    """A `ConfigError` in one line for `data.folds` / `data.fold` that cannot cross-validate."""
    if folds is None:
        if fold is not None:
            raise ConfigError(
                f"data.fold={fold!r} needs data.folds: add data.folds=K (K >= 2), "
                "e.g. data.folds=5 data.fold=0"
            )
        return
    if not _is_int(folds) or folds < 2:
        raise ConfigError(
            f"data.folds={folds!r} is not allowed: use an integer >= 2 (K-fold "
            "cross-validation), or null for one validation split (data.val_size)"
        )
    if fold is None:
        raise ConfigError(
            f"data.folds={folds} needs data.fold: choose one with data.fold=0, or sweep them all "
            f"with -m data.fold='range({folds})'"
        )
    if not _is_int(fold) or not 0 <= fold < folds:
        raise ConfigError(
            f"data.fold={fold!r} is out of range for data.folds={folds}: use 0 to {folds - 1}, "
            f"or sweep them all with -m data.fold='range({folds})'"
        )


def fold_indices(
    codes: np.ndarray, classes: int, test_size: float, folds: int, fold: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices of fold `fold` of `folds`; `classes` = 0 for
    regression (no stratification)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    check_folds(folds, fold)
    fit, test = test_split(len(codes), test_size, seed)
    if len(fit) < 2 * folds:
        raise DataError(
            f"{len(fit)} rows outside the test split cannot make data.folds={folds} folds of "
            f"at least two rows: use data.folds={max(2, len(fit) // 2)} or fewer"
        )
    labels = codes[fit].astype(np.int64) if classes else None
    counts = np.bincount(labels) if classes else np.zeros(1)
    stratified = bool(classes) and counts[counts > 0].min() >= folds
    cut = (StratifiedKFold if stratified else KFold)(folds, shuffle=True, random_state=seed)
    train, val = list(cut.split(fit, labels))[fold]
    return fit[train], fit[val], test
