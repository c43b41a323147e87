"""The cells of a table, torch-free: which columns hold numbers and which text, bad cells, empty
cells, and where a row sits in the user's file.

Shared by training (`experiments.data.prepare`) and prediction (`experiments.data.encoder`), so a
cell means the same thing to both.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.errors import DataError

Where = Callable[[int], str]  # a row's position in the table as read -> "row 12" for messages
MISSING_RULES = ("error", "drop", "impute")


def file_rows(path: Path) -> Where:
    """Rows named by their line in the user's file ("row 12"; the header is line 1), blank lines
    and quoted line breaks counted. The file is scanned only when a message needs a row."""
    cache: list[list[int]] = []

    def where(row: int) -> str:
        if not cache:
            cache.append(_data_lines(path))
        lines = cache[0]
        return f"row {lines[row] if 0 <= row < len(lines) else row + 2}"

    return where


def frame_rows(first: int = 1) -> Where:
    """Rows named by their position from `first` (a table that never was a file, `inputs=`)."""
    return lambda row: f"row {row + first}"


def _data_lines(path: Path) -> list[int]:
    """The first line of every data record, as pandas reads them (blank lines skipped)."""
    starts, previous = [], 0
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    starts.append(previous + 1)
                previous = reader.line_num
    except (csv.Error, OSError):
        return []
    return starts[1:]  # the first record is the header


def as_text(values: pd.Series) -> pd.Series:
    """Cells of a text (one-hot) column as category names: text stripped, whole numbers without
    '.0' (a column of codes 1, 2, 3 read as floats because of an empty cell), empty stays NaN."""

    def name(value: object) -> object:
        value = blank_to_nan(value)
        return value if isinstance(value, str) or pd.isna(value) else number_text(value)

    return values.map(name).astype(object)


def blank_to_nan(value: object) -> object:
    """Text stripped; a blank cell is empty (NaN), as pandas reads an empty one."""
    return (value.strip() or np.nan) if isinstance(value, str) else value


def number_text(value: object) -> str:
    """1.0 -> '1', 2.5 -> '2.5', 'a' -> 'a'."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def number_kinds(
    frame: pd.DataFrame, columns: Iterable[str], text: Sequence[str], where: Where, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """Each column as numbers or as text (stripped strings), and the text columns.

    A column is text when named in `text` (`data.categorical`) or when most of its filled cells
    are not numbers; a column of numbers with a few cells that are not (or are infinite) is a
    `DataError` naming the first such cell.
    """
    frame = frame.copy(deep=False)
    text_columns = []
    for column in columns:
        values = frame[column]
        if column in text:
            frame[column] = as_text(values)
            text_columns.append(column)
            continue
        if pd.api.types.is_bool_dtype(values):
            frame[column] = values.astype(np.float64)
        elif pd.api.types.is_numeric_dtype(values):  # left as read: no copy of a large table
            check_numbers(values, values, column, where, source)
        else:
            stripped = values.map(blank_to_nan)
            numbers = pd.to_numeric(stripped, errors="coerce")
            bad = stripped.notna() & numbers.isna()
            if 2 * int(bad.sum()) >= int(stripped.notna().sum()):
                frame[column] = as_text(stripped)
                text_columns.append(column)
                continue
            check_numbers(stripped, numbers, column, where, source)
            frame[column] = numbers.astype(np.float64)
    return frame, text_columns


def check_numbers(
    cells: pd.Series,
    numbers: pd.Series,
    column: str,
    where: Where,
    source: str,
    advice: str = "fix that cell, or leave the column out with data.drop=[{column}]",
) -> None:
    """A `DataError` at the first filled cell that is not a finite number, ending in `advice`
    (`{column}` filled in)."""
    values = numbers.to_numpy(np.float64)
    bad = np.isinf(values) | (np.isnan(values) & cells.notna().to_numpy())
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        cell = cells.iloc[position]
        shown = cell if isinstance(cell, str) else number_text(cell)
        label = cells.index[position]  # not a number where pandas made a column the index
        row = where(int(label) if isinstance(label, (int, np.integer)) else position)
        raise DataError(
            f"{source}: {row}, column {column!r} holds {shown!r}, not a finite number: "
            + advice.format(column=column)
        )


TRAINING_ADVICE = (
    "Fill them in, or set data.missing=drop to leave those rows out, or data.missing=impute to "
    "fill them from the training rows (mean of a number column, most frequent text)"
)


def missing_message(
    missing: pd.DataFrame, where: Where, source: str, advice: str = TRAINING_ADVICE
) -> str:
    """One line: how many empty cells in which columns, the first rows, what to do."""
    per_column = missing.sum()
    per_column = per_column[per_column > 0]
    positions = np.flatnonzero(missing.to_numpy().any(axis=1))
    first = int(positions[0])
    first_column = missing.columns[int(np.flatnonzero(missing.iloc[first].to_numpy())[0])]
    counts = ", ".join(f"{c!r} {n}" for c, n in per_column.items())
    cells = "an empty cell" if per_column.sum() == 1 else f"{int(per_column.sum())} empty cells"
    rows = row_list(missing.index[positions], where)
    return (
        f"{source} has {cells} ({counts}) in rows {rows}: "
        f"{where(int(missing.index[first]))}, column {first_column!r} is empty. {advice}"
    )


def row_list(rows: Sequence[int], where: Where, shown: int = 5) -> str:
    """'11, 15, 40' (the rows' numbers in the user's file), '... and 7 more' past `shown`."""
    numbers = ", ".join(where(int(r)).removeprefix("row ") for r in rows[:shown])
    return numbers + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
