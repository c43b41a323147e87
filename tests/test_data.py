"""Data modules: the lesson's heart split, scaling on training rows only, user CSVs and the checks
on them, batches."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CONF

from experiments.data import CsvDataModule, TableDataModule
from experiments.data.batches import EndlessBatches
from experiments.data.csv import packaged_heart_csv
from experiments.errors import DataError


def test_heart_split_is_the_lessons() -> None:
    from sklearn.model_selection import train_test_split

    dm = CsvDataModule()
    dm.setup()
    frame = pd.read_csv(packaged_heart_csv())
    assert len(frame) == 303 and dm.n_features == 13
    _, x_test, _, _ = train_test_split(
        frame.drop(columns="target").to_numpy(float),
        frame["target"],
        test_size=0.2,
        random_state=42,
    )
    assert np.array_equal(dm.splits.x_test, x_test), "test rows = the lesson's 61 rows"
    assert (len(dm.splits.x_train), len(dm.splits.x_val), len(dm.splits.x_test)) == (193, 49, 61)
    # The table holds one duplicated row, so compare the splits as multisets of rows.
    rows = np.concatenate([dm.splits.x_train, dm.splits.x_val, dm.splits.x_test])
    full = frame.drop(columns="target").to_numpy(float)
    assert sorted(map(tuple, rows)) == sorted(map(tuple, full))


def test_scaler_is_fitted_on_training_rows_only() -> None:
    dm = CsvDataModule()
    dm.setup()
    x_train = torch.as_tensor(dm.splits.x_train, dtype=torch.float32)
    assert torch.allclose(torch.tensor(dm.scaler.offset).float(), x_train.mean(0), atol=1e-4)
    scaled_train, scaled_test = dm.train_xy[0], dm.test_xy[0]
    assert torch.allclose(scaled_train.mean(0), torch.zeros(13), atol=1e-5)
    assert not torch.allclose(scaled_test.mean(0), torch.zeros(13), atol=1e-3)


def test_a_users_csv_with_the_lessons_label_name(tmp_path) -> None:
    path = tmp_path / "heart.csv"
    pd.read_csv(packaged_heart_csv()).rename(columns={"target": "output"}).to_csv(path, index=False)
    dm = CsvDataModule(path=str(path), target="output")
    dm.setup()
    reference = CsvDataModule()
    reference.setup()
    assert torch.equal(dm.test_xy[0], reference.test_xy[0])


def test_missing_label_column_names_the_columns(tmp_path) -> None:
    path = tmp_path / "heart.csv"
    pd.read_csv(packaged_heart_csv()).rename(columns={"target": "output"}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"its columns are: age, .*output.*data\.target="):
        CsvDataModule(path=str(path)).setup()


def test_missing_file_names_the_path(tmp_path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.csv does not exist"):
        CsvDataModule(path=str(tmp_path / "nowhere.csv")).setup()


def test_table_targets_are_scaled_and_unscaled() -> None:
    dm = TableDataModule(
        x=[[2, 9], [1, 5], [3, 6]],
        y=[92, 100, 89],
        task="regression",
        scaling="max",
        target_scale=100,
    )
    dm.setup()
    assert torch.allclose(dm.train_xy[0].max(0).values, torch.ones(2))
    assert torch.allclose(dm.train_xy[1].ravel(), torch.tensor([0.92, 1.0, 0.89]))
    assert torch.allclose(dm.scaler.inputs([[4, 8]]), torch.tensor([[4 / 3, 8 / 9]]))
    assert dm.task.outputs(torch.tensor([0.9])).item() == pytest.approx(90)


def _take(stream: EndlessBatches, n: int) -> list[torch.Tensor]:
    return [x for x, _ in itertools.islice(iter(stream), n)]


def test_full_batch_yields_the_whole_table_every_step() -> None:
    x, y = torch.arange(8.0).view(4, 2), torch.zeros(4, 1)
    assert all(torch.equal(b, x) for b in _take(EndlessBatches(x, y, None, False, 0), 5))


def test_mini_batches_visit_every_row_once_per_pass() -> None:
    x, y = torch.arange(10.0).view(10, 1), torch.zeros(10, 1)
    batches = _take(EndlessBatches(x, y, 3, False, 0), 8)  # two passes of 4 batches (3+3+3+1)
    for one_pass in (batches[:4], batches[4:]):
        assert sorted(torch.cat(one_pass).ravel().tolist()) == list(range(10))
    again = _take(EndlessBatches(x, y, 3, False, 0), 8)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True)), "seeded"


def test_replacement_draws_rows_independently() -> None:
    x, y = torch.arange(5.0).view(5, 1), torch.zeros(5, 1)
    rows = torch.cat(_take(EndlessBatches(x, y, 1, True, 0), 400)).ravel()
    counts = torch.bincount(rows.long(), minlength=5)
    assert counts.min() > 50, "every row is drawn"
    assert any(rows[i] == rows[i + 1] for i in range(len(rows) - 1)), "with replacement"


def _csv(tmp_path, text: str) -> str:
    path = tmp_path / "user.csv"
    path.write_text(text)
    return str(path)


def _rows(n: int, label=lambda i: i % 2) -> str:
    return "a,b,y\n" + "".join(f"{i},{i * i % 7},{label(i)}\n" for i in range(n))


DATA_ERRORS = {
    "one class": (_rows(20, lambda i: 1), "column 'y' holds one value only (1)"),
    "too few rows": (
        _rows(7),
        "has 7 rows: the test (0.2) and validation (0.2) splits need at least 8",
    ),
    "repeated name": ("a,a,y\n" + "1,2,0\n" * 10, "the header names 'a' more than once"),
    "infinite cell": (
        _rows(10) + "inf,1,0\n" + _rows(10)[6:],
        "row 12, column 'a' holds 'inf', not a finite number",
    ),
    "headerless": ("1,2,0\n" * 10, "looks like data, not column names: add a header row"),
    "row as the editor numbers it": (
        "a,b,y\n1,2,0\n\n\n3,x,1\n" + _rows(10)[6:],
        "row 5, column 'b' holds 'x'",
    ),
}


@pytest.mark.parametrize(("text", "message"), DATA_ERRORS.values(), ids=DATA_ERRORS)
def test_a_table_that_cannot_train_is_one_true_line(tmp_path, text, message) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        CsvDataModule(path=_csv(tmp_path, text), target="y").setup()


def test_the_true_minimum_row_count_loads(tmp_path) -> None:
    dm = CsvDataModule(path=_csv(tmp_path, _rows(8)), target="y")
    dm.setup()
    assert (len(dm.splits.x_train), len(dm.splits.x_val), len(dm.splits.x_test)) == (4, 2, 2)


def test_a_folder_as_data_path_is_named_a_folder(tmp_path) -> None:
    with pytest.raises(DataError, match="is a folder: give the path of a CSV file"):
        CsvDataModule(path=str(tmp_path), target="y").setup()


def test_a_whole_text_column_is_one_hot_encoded(tmp_path, caplog) -> None:
    text = "site,b,y\n" + "".join(f"{'AB'[i % 2]},{i},{i % 2}\n" for i in range(20))
    dm = CsvDataModule(path=_csv(tmp_path, text), target="y")
    with caplog.at_level("INFO"):
        dm.setup()
    assert dm.feature_names == ["b", "site=A", "site=B"]
    assert "text column 'site' one-hot encoded: 2 categories (A, B)" in caplog.text, "and said"


def test_a_batch_larger_than_the_training_rows_is_logged(tmp_path, caplog) -> None:
    dm = CsvDataModule(path=_csv(tmp_path, _rows(20)), target="y", batch_size=1000)
    with caplog.at_level("INFO"):
        dm.setup()
    assert "data.batch_size=1000 is not below the 12 training rows" in caplog.text


def test_data_errors_come_before_torch_is_imported(tmp_path) -> None:
    """check_config reads the CSV with pandas alone: a bad table fails in about a second."""
    path = _csv(tmp_path, _rows(20, lambda i: 1))
    code = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from experiments.run.config import check_config\n"
        "from experiments.errors import DataError\n"
        f"with initialize_config_dir({str(CONF)!r}, version_base='1.3'):\n"
        f"    cfg = compose('train', overrides=['experiment=table', 'data.path={path}', "
        "'data.target=y'])\n"
        "try:\n"
        "    check_config(cfg)\n"
        "except DataError as err:\n"
        "    print('DataError:', err)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "DataError:" in done.stdout and "holds one value only" in done.stdout, done.stderr
    assert done.stdout.strip().endswith("False"), "torch was imported"
