"""A labelled table as read (a CSV file, or a DataFrame such as scikit-learn's iris) turned into
what the data modules split and encode, torch-free, with every check a user's table needs: the
label column, `data.drop` and `data.categorical`, cells, empty cells (`data.missing`), the row
count, and the task (`experiments.data.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from experiments.data.cells import MISSING_RULES, Where, missing_message, number_kinds, row_list
from experiments.data.class_sizes import check_class_sizes
from experiments.data.csv_format import check_encoding, check_sep
from experiments.data.labels import TASK_NAMES, read_labels
from experiments.data.splits import check_fractions, minimum_rows
from experiments.errors import ConfigError, DataError


@dataclass(frozen=True)
class ReadOptions:
    """The `data.*` keys that say how to read a table (hashable: reads are cached by them)."""

    target: str
    task: str = "auto"
    max_classes: int = 20
    missing: str = "error"
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    test_size: float = 0.2
    val_size: float = 0.2
    sep: str = "auto"  # a CSV's field separator: auto = read off its header
    encoding: str = "utf-8"

    @classmethod
    def from_config(cls, data) -> ReadOptions:
        """From `cfg.data` (or any mapping holding the keys); lists become tuples."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for key in ("drop", "categorical"):
            values[key] = tuple(str(c) for c in values.get(key) or ())
        return cls(**values)

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise ConfigError(f"data.target={self.target!r} is not allowed: name the label column")
        for key, allowed in (("task", TASK_NAMES), ("missing", MISSING_RULES)):
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"data.{key}={getattr(self, key)!r} is unknown: choose one of "
                    f"{', '.join(allowed)}"
                )
        ok = isinstance(self.max_classes, int) and not isinstance(self.max_classes, bool)
        if not ok or self.max_classes < 2:
            raise ConfigError(
                f"data.max_classes={self.max_classes!r} is not allowed: use an integer >= 2"
            )
        check_fractions(self.test_size, self.val_size)
        object.__setattr__(self, "sep", check_sep(self.sep))  # `tab` -> the tab character
        object.__setattr__(self, "encoding", check_encoding(self.encoding))


@dataclass
class RawTable:
    """A checked table: raw feature cells (numbers as read, text as stripped strings, empty
    cells only under data.missing=impute), the label codes and the task."""

    source: str
    frame: pd.DataFrame  # feature columns, rows kept (index: the row as read)
    text_columns: list[str]  # one-hot encoded
    labels: np.ndarray  # (rows,): class index, or the value (regression)
    task: str
    classes: list[str] | None
    notes: list[str] = field(default_factory=list)  # what the run logs about the table


def prepare_table(frame: pd.DataFrame, source: str, options: ReadOptions, where: Where) -> RawTable:
    """Check a freshly read `frame` (it is changed in place) as `options` say; a `DataError` or
    `ConfigError` with one line if it cannot train."""
    frame.columns = [str(c).strip() for c in frame.columns]
    used = [*_feature_columns(list(frame.columns), source, options), options.target]
    if used != list(frame.columns):  # a copy of the table: only when columns go or move
        frame = frame[used]
    frame, text = number_kinds(frame, used, options.categorical, where, source)
    label_is_text = options.target in text
    text = [c for c in text if c != options.target]
    frame, notes = _missing_cells(frame, options, where, source)
    _check_row_count(len(frame), options, source, notes)
    labels = read_labels(
        frame[options.target], label_is_text, options.task, options.max_classes, source
    )
    if labels.classes is not None:
        check_class_sizes(labels.codes, labels.classes, options.target, source)
    frame = frame.iloc[:, :-1]  # the features (the label is last): a view, not a copy
    _check_identifiers(frame, text, options.max_classes, source)
    notes.insert(0, labels.decision)
    return RawTable(source, frame, text, labels.codes, labels.task, labels.classes, notes)


def _feature_columns(columns: list[str], source: str, options: ReadOptions) -> list[str]:
    """The columns the model reads: all but the label and `data.drop`."""
    listed = ", ".join(columns)
    if options.target not in columns:
        raise DataError(
            f"{source} has no column {options.target!r}; its columns are: {listed}. "
            "Name the label column with data.target=COLUMN"
        )
    for key in ("drop", "categorical"):
        unknown = [c for c in getattr(options, key) if c not in columns]
        if unknown:
            raise DataError(
                f"data.{key} names {', '.join(map(repr, unknown))}, not a column of {source}; "
                f"its columns are: {listed}"
            )
    if options.target in options.drop:
        raise DataError(f"data.drop lists the label column {options.target!r}: leave it out")
    features = [c for c in columns if c != options.target and c not in options.drop]
    if not features:
        raise DataError(
            f"{source} needs at least one feature column besides the label {options.target!r}; "
            f"its columns are: {listed}"
        )
    return features


def _missing_cells(
    frame: pd.DataFrame, options: ReadOptions, where: Where, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """Empty cells by `data.missing`: error, drop (the rows), impute (features later, from the
    training rows; a row without its label is left out)."""
    missing = frame.isna()
    per_column = missing.sum()
    if not per_column.any():
        return frame, []
    empty = [c for c in frame.columns if per_column[c] == len(frame)]
    if empty:
        raise DataError(
            f"{source}: column {empty[0]!r} has no values: leave it out with data.drop=[{empty[0]}]"
        )
    if options.missing == "error":
        raise DataError(missing_message(missing, where, source))
    if options.missing == "drop":
        gone = missing.to_numpy().any(axis=1)
        why = "with an empty cell (data.missing=drop)"
    else:
        gone = missing[options.target].to_numpy()
        why = "without a label (data.missing=impute fills features only)"
    if not gone.any():
        return frame, []
    rows = row_list(frame.index[gone], where)
    note = f"left out {int(gone.sum())} of {len(frame)} rows {why}: rows {rows}"
    return frame.loc[~gone], [note]


def _check_row_count(n: int, options: ReadOptions, source: str, notes: list[str]) -> None:
    needed = minimum_rows(options.test_size, options.val_size)
    if n < needed:
        left = " left" if notes else ""
        raise DataError(
            f"{source} has {n} rows{left}: the test ({options.test_size}) and validation "
            f"({options.val_size}) splits need at least {needed} rows (two to train on)"
        )


def _check_identifiers(frame: pd.DataFrame, text: list[str], max_classes: int, source: str) -> None:
    """A text column with a different value in every row is an identifier, not a feature."""
    for column in text:
        distinct = frame[column].nunique()
        if distinct == len(frame) and distinct > max_classes:
            raise DataError(
                f"{source}: column {column!r} holds a different text in every row (an id?): "
                f"leave it out with data.drop=[{column}], or use it as data.target"
            )
