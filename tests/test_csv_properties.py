"""Properties of the CSV loader: a well-formed table loads with the shape its rows and columns
give; a table damaged in a known way raises the DataError that names the damage; any bytes at
all either load into finite tensors or raise a one-line DataError. Nothing is suppressed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.data import CsvDataModule
from experiments.data.splits import minimum_rows, split_sizes
from experiments.errors import DataError

TEST_SIZE, VAL_SIZE = 0.2, 0.2
FEATURES = ["a", "b", "c", "d"]
NUMBERS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.6g}")


@st.composite
def well_formed(draw) -> tuple[list[str], list[list[str]]]:
    """A header of 1-4 numeric features and a 0/1 `target` (both classes at least twice), and
    enough rows for the three splits."""
    features = FEATURES[: draw(st.integers(1, len(FEATURES)))]
    n_rows = draw(st.integers(max(minimum_rows(TEST_SIZE, VAL_SIZE), 8), 40))
    labels = ["0", "1", "0", "1"] + [draw(st.sampled_from("01")) for _ in range(n_rows - 4)]
    rows = [[draw(NUMBERS) for _ in features] + [label] for label in labels]
    return [*features, "target"], rows


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def load(content: bytes) -> CsvDataModule:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.csv"
        path.write_bytes(content)
        dm = CsvDataModule(path=str(path), target="target", test_size=TEST_SIZE, val_size=VAL_SIZE)
        dm.setup()
        return dm


def assert_loaded_sanely(dm: CsvDataModule) -> None:
    x, y = dm.train_xy
    assert x.shape[1] == dm.n_features and len(x) == len(y) and y.shape[1] == dm.n_outputs
    assert np.isfinite(x.numpy()).all() and np.isfinite(y.numpy()).all()
    if dm.task.name != "regression":
        assert np.isin(y.numpy(), (0, 1)).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed())
def test_well_formed_tables_load_with_their_shape(table) -> None:
    header, rows = table
    dm = load(csv_text(header, rows))
    n_train, n_val, n_test = split_sizes(len(rows), TEST_SIZE, VAL_SIZE)
    assert dm.task.name == "binary"
    assert tuple(dm.train_xy[0].shape) == (n_train, len(header) - 1)
    assert len(dm.val_xy[0]) == n_val and len(dm.test_xy[0]) == n_test
    assert_loaded_sanely(dm)


def _ragged(header, rows, i):
    rows[i] = [*rows[i], "7"]
    return header, rows


def _renamed_label(header, rows, i):
    return [*header[:-1], "label"], rows


def _infinite_cell(header, rows, i):
    rows[i][0] = "inf"
    return header, rows


def _empty_cell(header, rows, i):
    rows[i][0] = ""
    return header, rows


def _repeated_name(header, rows, i):
    return ["target", *header[1:]], rows


def _empty_column(header, rows, i):
    return header, [["", *r[1:]] for r in rows]


def _too_few_rows(header, rows, i):
    return header, rows[:2]


# damage -> a fragment of the one DataError it must raise
DAMAGES = {
    _ragged: "is not a readable CSV file|fields but the header names",
    _renamed_label: "has no column 'target'",
    _infinite_cell: "not a finite number",
    _empty_cell: "is empty",
    _repeated_name: "more than once",
    _empty_column: "has no values",
    _too_few_rows: "splits need at least",
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed(), st.sampled_from(list(DAMAGES)), st.data())
def test_damaged_tables_raise_the_error_that_names_the_damage(table, damage, data) -> None:
    header, rows = table
    row = data.draw(st.integers(0, len(rows) - 1))
    header, rows = damage(list(header), [list(r) for r in rows], row)
    with pytest.raises(DataError, match=DAMAGES[damage]) as caught:
        load(csv_text(header, rows))
    assert "\n" not in str(caught.value)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_load_sanely_or_raise_one_line(content: bytes) -> None:
    try:
        dm = load(content)
    except DataError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert_loaded_sanely(dm)
