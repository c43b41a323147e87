"""Data modules: the lesson's heart split, scaling on training rows only, user CSVs, batches."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

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
