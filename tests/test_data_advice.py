"""Advice that fits the data: a CSV separated by `;`, tab or `|` reads as its comma twin does, a
file that is not UTF-8 reads with `data.encoding`, a class too small for the splits is refused, and
a split whose labels are all one class is noted in the log and in metrics.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.data import CsvDataModule
from experiments.data.csv import packaged_heart_csv
from experiments.errors import ConfigError, DataError
from experiments.run.training import train


def _heart(tmp_path, name: str = "heart.csv", sep: str = ",", encoding: str = "utf-8", **edit):
    frame = pd.read_csv(packaged_heart_csv()).assign(**edit)
    frame.to_csv(path := tmp_path / name, sep=sep, index=False, encoding=encoding)
    return path


def _splits(dm: CsvDataModule) -> list[np.ndarray]:
    s = dm.splits
    return [s.x_train, s.y_train, s.x_val, s.y_val, s.x_test, s.y_test]


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")])
def test_a_csv_separated_otherwise_reads_as_the_comma_file(tmp_path, caplog, sep, word) -> None:
    comma = CsvDataModule(path=str(_heart(tmp_path)))
    comma.setup()
    other = CsvDataModule(path=str(_heart(tmp_path, "other.csv", sep)))
    with caplog.at_level(logging.INFO):
        other.setup()
    for a, b in zip(_splits(comma), _splits(other), strict=True):
        np.testing.assert_array_equal(a, b)
    assert other.feature_names == comma.feature_names
    said = [m for r in caplog.records if "the header is separated by" in (m := r.getMessage())]
    assert len(said) == 1 and word in said[0], said


def test_data_sep_names_the_separator(tmp_path) -> None:
    path = str(_heart(tmp_path, "tab.csv", "\t"))
    for sep in ("\t", "tab", "\\t"):
        dm = CsvDataModule(path=path, sep=sep)
        dm.setup()
        assert dm.n_features == 13
    with pytest.raises(DataError, match="has no column 'target'"):  # told ',' it is one column
        CsvDataModule(path=path, sep=",").setup()
    with pytest.raises(ConfigError, match=r"data\.sep='ab' is not allowed"):
        CsvDataModule(path=path, sep="ab")


def test_a_latin1_file_reads_with_data_encoding(tmp_path) -> None:
    towns = ["Zürich" if i % 3 else "Genève" for i in range(303)]
    path = str(_heart(tmp_path, "latin.csv", encoding="latin-1", town=towns))
    with pytest.raises(DataError, match=r"is not utf-8 text \(byte 0x\w\w on line 2\): .*"):
        CsvDataModule(path=path).setup()
    with pytest.raises(DataError, match=r"e\.g\. data\.encoding=latin-1"):
        CsvDataModule(path=path).setup()
    dm = CsvDataModule(path=path, encoding="latin-1")
    dm.setup()
    assert {"town=Zürich", "town=Genève"} <= set(dm.feature_names)
    with pytest.raises(ConfigError, match=r"data\.encoding='nope' is not an encoding"):
        CsvDataModule(path=path, encoding="nope")


def test_a_class_of_one_row_is_refused_with_the_count(tmp_path) -> None:
    labels = np.zeros(303, dtype=int)
    labels[7] = 1
    path = str(_heart(tmp_path, target=labels))
    with pytest.raises(DataError, match="class '1' of column 'target' has 1 row: a class needs at"):
        CsvDataModule(path=path).setup()


def test_a_single_class_split_is_noted(tmp_path, make_cfg, caplog) -> None:
    labels = np.zeros(303, dtype=int)
    labels[:2] = 1  # both rows land in training (split_seed 42): validation and test are all 0
    path = _heart(tmp_path, target=labels)
    cfg = make_cfg("experiment=heart", f"data.path={path}", "trainer.max_steps=3")
    out = Path(cfg.output_dir)
    with caplog.at_level(logging.WARNING):
        train(cfg)
    record = json.loads((out / "metrics.json").read_text())
    assert record["single_class_splits"] == {"val": "0", "test": "0"}
    assert record["test/baseline_acc"] == 1.0, "the test split holds one class indeed"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("the test split's 61 rows are all class '0'" in m for m in warned), warned
    assert any("the val split's 49 rows are all class '0'" in m for m in warned), warned


@pytest.mark.slow
def test_a_population_s_grid_points_note_a_single_class_split_too(tmp_path) -> None:
    """`hydra/sweeper=vectorized`: every grid point's metrics.json says what the ordinary run's
    says of the shared data."""
    from helpers import job_dirs, multirun

    labels = np.zeros(303, dtype=int)
    labels[:2] = 1
    path = _heart(tmp_path, target=labels)
    done = multirun(
        "experiment=heart", f"data.path={path}", "trainer.max_steps=3", "model.lr=0.1,0.2",
        "hydra/sweeper=vectorized", sweep_dir=tmp_path / "sweep",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = job_dirs(tmp_path / "sweep")
    assert len(jobs) == 2
    for job in jobs:
        record = json.loads((job / "metrics.json").read_text())
        assert record["single_class_splits"] == {"val": "0", "test": "0"}, job


def test_a_split_with_both_classes_notes_nothing(tmp_path, make_cfg) -> None:
    cfg = make_cfg("experiment=heart", "trainer.max_steps=3")
    out = Path(cfg.output_dir)
    train(cfg)
    assert "single_class_splits" not in json.loads((out / "metrics.json").read_text())
