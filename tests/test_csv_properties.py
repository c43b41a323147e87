"""Property: whatever CSV a user points the CSV loader at, it loads (as the task its label column
asks for) or raises the project's own DataError, never anything else."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.data import CsvDataModule
from experiments.errors import DataError

CELLS = st.one_of(
    st.integers(-5, 300).map(str),
    st.sampled_from(["0", "1", "", " ", "nan", "inf", "-inf", "1e308", "abc", '"', "0.5", "NA"]),
    st.text(max_size=4),
)


@st.composite
def tables(draw) -> str:
    """Mostly well-formed tables with a `target` column, damaged in random ways."""
    n_cols = draw(st.integers(1, 5))
    names = draw(
        st.lists(
            st.sampled_from(["target", "a", "b", "c", "d", ""]), min_size=n_cols, max_size=n_cols
        )
    )
    n_rows = draw(st.integers(0, 40))
    labels = st.sampled_from(["0", "1"])
    rows = [
        [draw(labels if name == "target" and draw(st.booleans()) else CELLS) for name in names]
        for _ in range(n_rows)
    ]
    if rows and draw(st.booleans()):  # a ragged row
        rows[draw(st.integers(0, len(rows) - 1))].append("extra")
    lines = [",".join(names), *(",".join(r) for r in rows)]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


def load(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.csv"
        path.write_bytes(content)
        dm = CsvDataModule(path=str(path), target="target")
        dm.setup()
        x, y = dm.train_xy
        assert x.shape[1] == dm.n_features and len(x) == len(y)
        assert y.shape[1] == dm.n_outputs
        assert np.isfinite(x.numpy()).all() and np.isfinite(y.numpy()).all()
        if dm.task.name != "regression":
            assert np.isin(y.numpy(), (0, 1)).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_malformed_tables_load_or_raise_data_error(table: str) -> None:
    with contextlib.suppress(DataError):
        load(table.encode())


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_load_or_raise_data_error(content: bytes) -> None:
    with contextlib.suppress(DataError):
        load(content)
