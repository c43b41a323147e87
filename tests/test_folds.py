"""K-fold cross-validation (`data.folds`, `data.fold`): the folds themselves, the data module of
one fold, and a 5-fold sweep whose per-configuration numbers are the folds' mean and std."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import job_dirs, multirun

from experiments.data import BundledDataModule, CsvDataModule
from experiments.data.folds import fold_indices
from experiments.data.splits import split_indices
from experiments.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 3, 200)  # three classes, uneven


def all_folds(codes, classes, k=5, seed=42):
    return [fold_indices(codes, classes, 0.2, k, i, seed) for i in range(k)]


@pytest.mark.parametrize("classes", [3, 0])  # stratified classification, and regression
def test_every_non_test_row_validates_in_exactly_one_fold(classes) -> None:
    folds = all_folds(LABELS, classes)
    tests = [test for _, _, test in folds]
    assert all(np.array_equal(t, tests[0]) for t in tests), "the same test rows in every fold"
    _, _, lesson_test = split_indices(LABELS, classes, 0.2, 0.2, 42)
    assert np.array_equal(tests[0], lesson_test), "the test split of data.folds=null"
    others = np.setdiff1d(np.arange(len(LABELS)), tests[0])
    validated = np.concatenate([val for _, val, _ in folds])
    assert np.array_equal(np.sort(validated), others), "each non-test row validates once"
    for train, val, test in folds:
        assert not set(train) & set(val) and not set(train) & set(test)
        assert not set(val) & set(test)
        assert np.array_equal(np.sort(np.concatenate([train, val])), others)


def test_folds_are_stratified_and_reproducible() -> None:
    folds = all_folds(LABELS, 3)
    _, _, test = folds[0]
    share = np.bincount(LABELS[np.setdiff1d(np.arange(200), test)], minlength=3) / (200 - 40)
    for _, val, _ in folds:
        counts = np.bincount(LABELS[val], minlength=3)
        assert np.all(np.abs(counts - share * len(val)) <= 1), (counts, share * len(val))
    again = all_folds(LABELS, 3)
    assert all(np.array_equal(a, b) for a, b in zip(sum(folds, ()), sum(again, ()), strict=True))
    other = all_folds(LABELS, 3, seed=7)
    assert not np.array_equal(folds[0][1], other[0][1]), "data.split_seed draws the folds"


def test_a_class_too_small_to_stratify_falls_back_to_random_folds() -> None:
    codes = np.array([0] * 40 + [1] * 40 + [2] * 3)
    folds = all_folds(codes, 3)
    validated = np.concatenate([val for _, val, _ in folds])
    assert len(validated) == len(np.unique(validated)) == len(codes) - len(folds[0][2])


def test_too_few_rows_for_the_folds_is_one_line() -> None:
    with pytest.raises(DataError, match=r"data\.folds=10 folds"):
        fold_indices(np.zeros(12), 0, 0.2, 10, 0, 42)
    with pytest.raises(ConfigError, match="out of range"):
        fold_indices(LABELS, 3, 0.2, 5, 5, 42)


def test_a_folds_scaler_and_test_rows() -> None:
    modules = [CsvDataModule(folds=5, fold=i) for i in range(5)]
    for dm in modules:
        dm.setup()
        assert np.allclose(dm.scaler.offset, dm.splits.x_train.mean(0)), "fitted on its fold"
        assert np.array_equal(dm.splits.x_test, modules[0].splits.x_test)
        assert len(dm.splits.x_train) + len(dm.splits.x_val) == 303 - 61
    assert not np.allclose(modules[0].scaler.offset, modules[1].scaler.offset)
    iris = BundledDataModule(dataset="iris", target="species", folds=4, fold=3)
    iris.setup()
    counts = np.bincount(iris.splits.y_val.ravel().astype(int), minlength=3)
    assert len(iris.splits.y_val) == 30 and counts.min() >= 8, counts  # stratified: ~10 each


@pytest.mark.slow
def test_a_5_fold_sweep_groups_over_the_folds(tmp_path) -> None:
    sweep = tmp_path / "cv"
    done = multirun(
        "experiment=heart",
        "trainer.max_steps=20",
        "model.lr=0.03,0.3",
        "data.folds=5",
        "data.fold=range(5)",
        sweep_dir=sweep,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = []
    for job in job_dirs(sweep):
        metrics = json.loads((job / "metrics.json").read_text())
        config = (job / ".hydra" / "overrides.yaml").read_text()
        rows.append({"lr": 0.03 if "model.lr=0.03" in config else 0.3, **metrics})
    expected = pd.DataFrame(rows).groupby("lr")["val/loss"].agg(["mean", "std", "count"])
    configs = pd.read_csv(sweep / "summary_by_config.csv").set_index("model.lr")
    assert configs["n"].tolist() == [5, 5]
    for lr, row in expected.iterrows():
        assert configs.loc[lr, "val/loss_mean"] == pytest.approx(row["mean"], rel=1e-12)
        assert configs.loc[lr, "val/loss_std"] == pytest.approx(row["std"], rel=1e-12)
    assert "data.fold" not in configs.columns
    test_losses = {row["test/loss"] for row in rows}
    assert len(test_losses) > 1, "each fold trains its own network"
    best = min(expected.index, key=lambda lr: expected.loc[lr, "mean"])
    assert f"model.lr={best} =" in (sweep / "summary.md").read_text()
    assert "over 5 folds" in (sweep / "summary.md").read_text()
