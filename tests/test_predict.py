"""Prediction from raw rows of a user's table: columns by name (any order, extra columns ignored),
text cells encoded as in training, empty cells by the run's data.missing, outputs per task, and
one line (exit 1, no predictions file) for a missing column, a headerless file or a bad cell."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CHECKPOINTS_ONLY, run_cli
from helpers.tables import CULTIVARS, messy_frame, task_tables, write
from omegaconf import OmegaConf

from experiments.errors import DataError
from experiments.run.predicting import predict
from experiments.run.training import train


def trained(make_cfg, tmp_path: Path, missing: str) -> Path:
    """A 3-class model of the messy table (id dropped); its last checkpoint."""
    path = write(messy_frame(), tmp_path / "messy.csv")
    cfg = make_cfg(
        *CHECKPOINTS_ONLY,
        "experiment=table",
        f"data.path={path}",
        "data.target=cultivar",
        "data.drop=[id]",
        f"data.missing={missing}",
        "trainer.max_steps=50",
        quiet=False,
    )
    train(cfg)
    return Path(cfg.output_dir) / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def imputing(tmp_path_factory) -> Path:
    from helpers import CONF
    from hydra import compose, initialize_config_dir

    tmp = tmp_path_factory.mktemp("imputing")

    def make_cfg(*overrides: str, quiet: bool = True):
        with initialize_config_dir(str(CONF), version_base="1.3"):
            return compose("train", overrides=[*overrides, f"output_dir={tmp / 'run'}"])

    return trained(make_cfg, tmp, "impute")


def predict_csv(ckpt: Path, frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write(frame, tmp_path / "rows.csv")
    cfg = OmegaConf.create(
        {
            "ckpt_path": str(ckpt),
            "inputs": None,
            "input_csv": str(path),
            "output_dir": str(tmp_path),
        }
    )
    return predict(cfg)


def test_raw_rows_give_class_names_and_one_probability_per_class(imputing, tmp_path) -> None:
    rows = messy_frame().head(12)  # id and the label included, empty cells in rows 3, 5, 8
    table = predict_csv(imputing, rows, tmp_path)
    assert list(table.columns) == [
        "age",
        "site",
        "dose",
        *(f"probability_{c}" for c in CULTIVARS),
        "predicted",
    ]
    assert len(table) == 12, "empty cells imputed as in training"
    probabilities = table[[f"probability_{c}" for c in CULTIVARS]].to_numpy()
    assert probabilities.sum(axis=1) == pytest.approx(1.0)
    assert set(table["predicted"]) <= set(CULTIVARS)
    assert (tmp_path / "predictions.csv").is_file()


def test_column_order_does_not_matter(imputing, tmp_path) -> None:
    rows = messy_frame().head(12)
    in_order = predict_csv(imputing, rows, tmp_path / "a")
    shuffled = predict_csv(
        imputing, rows[["dose", "cultivar", "site", "id", "age"]], tmp_path / "b"
    )
    pd.testing.assert_frame_equal(in_order, shuffled)


def test_an_unseen_category_encodes_as_none_of_the_known(imputing, tmp_path, caplog) -> None:
    rows = messy_frame().head(2).assign(site=["east", "north"])
    table = predict_csv(imputing, rows, tmp_path)
    assert len(table) == 2
    assert "'east' not seen in training (north, south)" in caplog.text


def test_a_run_trained_with_missing_error_refuses_an_empty_cell(make_cfg, tmp_path) -> None:
    frame = messy_frame().dropna()
    path = write(frame, tmp_path / "clean.csv")
    cfg = make_cfg(
        *CHECKPOINTS_ONLY,
        "experiment=table",
        f"data.path={path}",
        "data.target=cultivar",
        "data.drop=[id]",
        "trainer.max_steps=10",
        quiet=False,
    )
    train(cfg)
    ckpt = Path(cfg.output_dir) / "checkpoints" / "last.ckpt"
    rows = messy_frame().head(6)
    with pytest.raises(DataError, match=r"row 5, column 'age' is empty\. This model was trained"):
        predict_csv(ckpt, rows, tmp_path)


def test_every_missing_column_is_named(imputing, tmp_path) -> None:
    rows = messy_frame().head(3).drop(columns=["site", "dose"])
    with pytest.raises(DataError, match="lacks the columns 'site', 'dose' the model takes"):
        predict_csv(imputing, rows, tmp_path)
    assert not (tmp_path / "predictions.csv").exists()


def test_a_text_cell_in_a_number_column_names_row_and_column(imputing, tmp_path) -> None:
    rows = messy_frame().head(6).astype({"dose": object})
    rows.loc[4, "dose"] = "lots"
    with pytest.raises(DataError) as err:
        predict_csv(imputing, rows, tmp_path)
    message = str(err.value)
    assert "row 6, column 'dose' holds 'lots', not a finite number: fix that cell" in message
    assert "data.drop" not in message, "a training option: no help at predict time"
    assert "\n" not in message and not (tmp_path / "predictions.csv").exists()


def test_a_run_trained_with_missing_drop_leaves_those_rows_out(make_cfg, tmp_path, caplog) -> None:
    ckpt = trained(make_cfg, tmp_path, "drop")
    rows = messy_frame().head(12)  # empty cells in rows 5, 7 and 10 of the file
    with caplog.at_level(logging.INFO):
        table = predict_csv(ckpt, rows, tmp_path / "predict")
    assert len(table) == 9 and not table.isna().to_numpy().any()
    assert table["dose"].tolist() == rows.dropna()["dose"].tolist()
    assert "left out rows with an empty cell (data.missing=drop): rows 5, 7, 10" in caplog.text


def train_table(make_cfg, frame: pd.DataFrame, tmp_path: Path, steps: int) -> Path:
    """`experiment=table` on `frame` (label column `y`); its last checkpoint."""
    path = write(frame, tmp_path / "table.csv")
    cfg = make_cfg(
        *CHECKPOINTS_ONLY,
        "experiment=table",
        f"data.path={path}",
        "data.target=y",
        f"trainer.max_steps={steps}",
        quiet=False,
    )
    train(cfg)
    return Path(cfg.output_dir) / "checkpoints" / "last.ckpt"


def test_binary_text_labels_give_a_probability_and_the_label(make_cfg, tmp_path) -> None:
    frame = task_tables()["yes and no"][0]  # y is "yes" where x > 0
    ckpt = train_table(make_cfg, frame, tmp_path, steps=100)
    checkpoint = torch.load(ckpt, weights_only=True)
    assert checkpoint["experiments"]["data"]["task"] == {"name": "binary", "classes": ["no", "yes"]}
    table = predict_csv(ckpt, frame.head(20)[["y", "z", "x"]], tmp_path / "predict")
    assert list(table.columns) == ["x", "z", "probability", "predicted"]
    assert ((table["probability"] > 0.5) == (table["predicted"] == "yes")).all()
    assert (table["predicted"] == frame["y"].head(20)).mean() >= 0.9


def test_a_regression_table_predicts_in_the_datas_units(make_cfg, tmp_path) -> None:
    """Trained on standardised targets, predicted back in the label's own units."""
    frame = task_tables()["real numbers"][0].assign(y=lambda f: 1000 + 300 * f["x"])
    ckpt = train_table(make_cfg, frame, tmp_path, steps=300)
    table = predict_csv(ckpt, frame.head(10)[["z", "y", "x"]], tmp_path / "predict")
    assert list(table.columns) == ["x", "z", "predicted_y"]
    error = np.abs(table["predicted_y"] - frame["y"].head(10)).mean()
    assert error < 20, f"{error} off, where y spreads by about 300"


def damaged(kind: str, folder: Path) -> tuple[Path, str]:
    """A prediction CSV with one thing wrong, and the line that must say so."""
    rows = messy_frame().head(6)
    path = folder / f"{kind}.csv"
    if kind == "missing column":
        rows.drop(columns="dose").to_csv(path, index=False)
        return path, "lacks the column 'dose' the model takes"
    if kind == "headerless":
        rows[["age", "dose"]].fillna(1).to_csv(path, index=False, header=False)
        return path, "looks like data, not column names: add a header row"
    rows = rows.astype({"dose": object})
    rows.loc[4, "dose"] = "lots"
    rows.to_csv(path, index=False)
    return path, "row 6, column 'dose' holds 'lots', not a finite number"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["missing column", "headerless", "bad cell"])
def test_bad_prediction_input_is_one_line(imputing, tmp_path, kind) -> None:
    path, message = damaged(kind, tmp_path)
    out = tmp_path / "predict"
    done = run_cli(f"ckpt_path={imputing}", f"input_csv={path}", run_dir=out, script="predict.py")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert message in output and "Traceback" not in output
    assert not (out / "predictions.csv").exists()


@pytest.mark.slow
def test_the_printed_table_names_the_predicted_class(imputing, tmp_path) -> None:
    path = write(messy_frame().head(3), tmp_path / "rows.csv")
    out = tmp_path / "predict"
    done = run_cli(f"ckpt_path={imputing}", f"input_csv={path}", run_dir=out, script="predict.py")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "predicted" in done.stdout
    assert any(name in done.stdout for name in CULTIVARS)
