"""Raw input columns, by name, to the numbers the scaler takes; torch-free. It travels in
checkpoints as plain values, so prediction reads raw rows exactly as training did.

Number columns pass as they are; text columns become one-hot columns (categories learned on the
training rows; a category never seen in training encodes as none of them); under
`data.missing=impute` empty cells take the training rows' mean (numbers) or most frequent value
(text). The features are the number columns in the table's order, then each text column's
one-hot columns (`site=A`, `site=B`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from experiments.data.cells import (
    Where,
    as_text,
    blank_to_nan,
    check_numbers,
    missing_message,
    row_list,
)
from experiments.errors import DataError

log = logging.getLogger(__name__)

# At predict time the model's columns are fixed: data.drop (a training option) does not apply.
PREDICT_ADVICE = "fix that cell: the model was trained on numbers in column {column!r}"


@dataclass
class Encoder:
    columns: list[str]  # the raw input columns, in the table's order
    categories: dict[str, list[str]] = field(default_factory=dict)  # text column -> categories
    fill: dict[str, Any] = field(default_factory=dict)  # column -> value (data.missing=impute)
    missing: str = "error"  # the training run's data.missing

    @classmethod
    def fit(cls, frame: pd.DataFrame, text: list[str], missing: str, rows: np.ndarray) -> Encoder:
        """Learned from the training rows (`rows`, positions in `frame`) of the feature columns
        `frame`; only the columns it learns from are copied."""
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OneHotEncoder

        columns = list(frame.columns)
        numbers = [c for c in columns if c not in text]
        fill: dict[str, Any] = {}
        if missing == "impute":
            for chosen, strategy in ((numbers, "mean"), (text, "most_frequent")):
                if chosen:
                    imputer = SimpleImputer(strategy=strategy, keep_empty_features=True)
                    values = imputer.fit(frame[chosen].iloc[rows]).statistics_
                    fill.update(zip(chosen, (_plain(v) for v in values), strict=True))
        categories = {}
        if text:
            cells = frame[text].iloc[rows].fillna(fill)
            one_hot = OneHotEncoder().fit(cells.astype(str))
            found = zip(text, one_hot.categories_, strict=True)
            categories = {c: list(map(str, cats)) for c, cats in found}
        return cls(columns, categories, fill, missing)

    @classmethod
    def numeric(cls, names: list[str]) -> Encoder:
        """For tables that hold numbers only (the lessons' inline tables)."""
        return cls(list(names))

    @property
    def numbers(self) -> list[str]:
        return [c for c in self.columns if c not in self.categories]

    @property
    def feature_names(self) -> list[str]:
        one_hot = [f"{c}={v}" for c, cats in self.categories.items() for v in cats]
        return [*self.numbers, *one_hot]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature rows (float64) of a frame holding `columns` (checked cells, see `check`)."""
        if list(frame.columns) != self.columns:
            frame = frame[self.columns]
        if self.fill:
            frame = frame.fillna(self.fill)
        if not self.categories:
            return frame.to_numpy(np.float64)
        cells = frame[list(self.categories)].apply(as_text).astype(str)
        self._log_unknown(cells)
        with warnings.catch_warnings():  # unknown categories: logged above, in one line each
            warnings.simplefilter("ignore", UserWarning)
            encoded = self._one_hot().transform(cells)
        return np.hstack([frame[self.numbers].to_numpy(np.float64), encoded])

    def _one_hot(self):
        """scikit-learn's OneHotEncoder with the saved categories, fitted on the categories
        themselves (each column padded with its first one)."""
        from sklearn.preprocessing import OneHotEncoder

        longest = max(map(len, self.categories.values()))
        known = {c: v + v[:1] * (longest - len(v)) for c, v in self.categories.items()}
        return OneHotEncoder(
            categories=[np.array(c, dtype=object) for c in self.categories.values()],
            handle_unknown="ignore",
            sparse_output=False,
        ).fit(pd.DataFrame(known))

    def check(self, frame: pd.DataFrame, where: Where, source: str) -> pd.DataFrame:
        """Prediction input as training read it: number columns hold numbers (else a
        `DataError` naming row and column), empty cells by the training run's `data.missing`
        (error; drop: those rows are left out, and logged; impute: filled)."""
        frame = frame[self.columns].copy()
        for column in self.numbers:
            cells = frame[column].map(blank_to_nan)
            numbers = pd.to_numeric(cells, errors="coerce")
            check_numbers(cells, numbers, column, where, source, PREDICT_ADVICE)
            frame[column] = numbers.astype(np.float64)
        for column in self.categories:
            frame[column] = as_text(frame[column])
        missing = frame.isna()
        if not missing.to_numpy().any() or self.missing == "impute":
            return frame
        if self.missing == "error":
            advice = "This model was trained with data.missing=error: fill them in"
            raise DataError(missing_message(missing, where, source, advice))
        gone = missing.to_numpy().any(axis=1)
        if gone.all():
            raise DataError(f"{source}: every row has an empty cell (data.missing=drop): none left")
        log.warning(
            "left out rows with an empty cell (data.missing=drop): rows %s",
            row_list(frame.index[gone], where),
        )
        return frame.loc[~gone]

    def _log_unknown(self, cells: pd.DataFrame) -> None:
        for column, known in self.categories.items():
            unseen = sorted(set(cells[column]) - set(known) - {"nan"})
            if unseen:
                log.warning(
                    "column %r: %s not seen in training (%s): encoded as none of them",
                    column,
                    ", ".join(map(repr, unseen[:5])),
                    ", ".join(known[:10]),
                )

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Encoder:
        return cls(**state)


def _plain(value: object) -> object:
    """numpy scalars as Python numbers, so the checkpoint holds plain values."""
    return value.item() if isinstance(value, np.generic) else value
