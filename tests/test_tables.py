"""Any table: the task decided from the label column, text labels and features, empty cells by
`data.missing`, and binary, multiclass and regression tables trained by both models."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from helpers.tables import CULTIVARS, diabetes_csv, messy_frame, task_tables, write

from experiments.data import CsvDataModule
from experiments.errors import ConfigError, DataError, DivergedError
from experiments.run.training import train

TASK_TABLES = task_tables()


@pytest.mark.parametrize(("name", "table"), TASK_TABLES.items(), ids=TASK_TABLES)
def test_auto_picks_the_task_of_the_label_column(tmp_path, name, table, caplog) -> None:
    frame, expected = table
    dm = CsvDataModule(path=str(write(frame, tmp_path / "t.csv")), target="y")
    with caplog.at_level(logging.INFO):
        dm.setup()
    assert dm.task.name == expected
    decisions = [r.getMessage() for r in caplog.records if "data.task=auto" in r.getMessage()]
    assert len(decisions) == 1 and "\n" not in decisions[0], "one line"
    assert decisions[0].startswith("data.task=auto: column 'y' holds")
    assert decisions[0].endswith(f": {expected}")
    width = {"binary": 1, "multiclass": frame["y"].nunique(), "regression": 1}[expected]
    assert dm.n_outputs == width == dm.train_xy[1].shape[1]


@pytest.mark.parametrize(
    ("name", "task", "message"),
    [
        ("text classes", "regression", "data.task=regression needs numbers"),
        ("text classes", "binary", "data.task=binary needs two distinct values"),
        ("real numbers", "multiclass", "more classes than data.max_classes=20"),
    ],
)
def test_a_task_the_label_column_cannot_be_is_one_line(tmp_path, name, task, message) -> None:
    path = write(TASK_TABLES[name][0], tmp_path / "t.csv")
    with pytest.raises(DataError, match=message):
        CsvDataModule(path=str(path), target="y", task=task).setup()


def test_max_classes_sets_how_many_whole_numbers_are_still_classes(tmp_path) -> None:
    """30 distinct whole numbers: regression under the default data.max_classes=20, multiclass
    (30 outputs) once the limit allows 30."""
    path = str(write(TASK_TABLES["many whole numbers"][0], tmp_path / "t.csv"))
    for max_classes, expected in ((29, "regression"), (30, "multiclass")):
        dm = CsvDataModule(path=path, target="y", max_classes=max_classes)
        dm.setup()
        assert dm.task.name == expected, max_classes
    assert dm.n_outputs == 30


def test_categories_are_learned_from_the_training_rows_only(tmp_path) -> None:
    """Ten rows hold a site of their own, the rest 'a' or 'b': the encoder knows the sites of the
    training rows, none seen only in validation or test rows."""
    frame = TASK_TABLES["two numbers"][0]
    sites = [f"rare{i}" if i < 10 else "ab"[i % 2] for i in range(len(frame))]
    frame = frame.assign(site=sites)
    dm = CsvDataModule(path=str(write(frame, tmp_path / "t.csv")), target="y")
    dm.setup()
    x = dm.feature_names.index("x")
    seen = dm.splits.x_train[:, x]  # read back from text: equal to within a rounding
    training = pd.Series(np.isclose(frame["x"].to_numpy()[:, None], seen, rtol=1e-12).any(1))
    assert 0 < training[:10].sum() < 10, "some rare sites fall outside the training rows"
    assert sorted(dm.encoder.categories["site"]) == sorted(set(frame.loc[training, "site"]))


def test_task_can_be_forced(tmp_path) -> None:
    path = write(TASK_TABLES["few whole numbers"][0], tmp_path / "t.csv")
    dm = CsvDataModule(path=str(path), target="y", task="regression")
    dm.setup()
    assert dm.task.name == "regression"


def messy(tmp_path, **options) -> CsvDataModule:
    path = write(messy_frame(), tmp_path / "messy.csv")
    return CsvDataModule(path=str(path), target="cultivar", drop=["id"], **options)


def test_empty_cells_are_an_error_by_default(tmp_path) -> None:
    with pytest.raises(DataError) as err:
        messy(tmp_path).setup()
    message = str(err.value)
    assert "has 3 empty cells ('age' 2, 'site' 1) in rows 5, 7, 10" in message
    assert "row 5, column 'age' is empty" in message, "rows as the file numbers them"
    assert "data.missing=drop" in message and "data.missing=impute" in message


def test_missing_drop_leaves_those_rows_out(tmp_path, caplog) -> None:
    dm = messy(tmp_path, missing="drop")
    with caplog.at_level(logging.INFO):
        dm.setup()
    s = dm.splits
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 117
    assert "left out 3 of 120 rows with an empty cell (data.missing=drop): rows 5, 7, 10" in (
        caplog.text
    )


def test_missing_impute_fills_from_the_training_rows(tmp_path) -> None:
    dm = messy(tmp_path, missing="impute")
    dm.setup()
    s = dm.splits
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 120
    age = dm.feature_names.index("age")
    fill = dm.encoder.fill["age"]
    assert fill == pytest.approx(s.x_train[:, age].mean()), "the training rows' mean"
    everything = messy_frame()["age"].mean()
    assert fill != pytest.approx(everything), "not the whole table's"
    assert dm.encoder.fill["site"] in {"north", "south"}
    assert not np.isnan(np.concatenate([s.x_train, s.x_val, s.x_test])).any()


def test_text_features_are_one_hot_and_labels_keep_their_names(tmp_path) -> None:
    dm = messy(tmp_path, missing="drop")
    dm.setup()
    assert dm.feature_names == ["age", "dose", "site=north", "site=south"]
    assert dm.task.classes == CULTIVARS
    state = dm.preprocessing_state()
    assert state["encoder"]["categories"] == {"site": ["north", "south"]}
    assert state["task"] == {"name": "multiclass", "classes": CULTIVARS}


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_a_multiclass_table_trains_in_both_models(make_cfg, tmp_path, model) -> None:
    path = write(messy_frame(), tmp_path / "messy.csv")
    record = train(
        make_cfg(
            "experiment=table",
            f"data.path={path}",
            "data.target=cultivar",
            "data.drop=[id]",
            "data.missing=impute",
            f"model={model}",
            "trainer.max_steps=200",
        )
    )
    assert record["status"] == "completed"
    assert record["test/acc"] > 0.7 > record["test/baseline_acc"]
    confusion = np.asarray(record["test/confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == 24
    assert confusion.trace() / 24 == pytest.approx(record["test/acc"])
    assert 0 < record["test/f1_macro"] <= 1


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_a_regression_table_reports_in_the_datas_units(make_cfg, tmp_path, model) -> None:
    frame = TASK_TABLES["real numbers"][0].assign(y=lambda f: 1000 + 300 * f["x"])
    path = write(frame, tmp_path / "r.csv")
    record = train(
        make_cfg(
            "experiment=table",
            f"data.path={path}",
            "data.target=y",
            f"model={model}",
            "trainer.max_steps=300",
        )
    )
    assert record["test/r2"] > 0.95
    assert record["test/mae"] < 0.2 * record["test/baseline_mae"]
    assert 100 < record["test/baseline_mae"] < 400, "in the label's own units"
    dm = CsvDataModule(path=str(path), target="y")
    dm.setup()
    y_train, y_test = dm.splits.y_train.ravel(), dm.splits.y_test.ravel()
    baseline = np.abs(y_test - y_train.mean()).mean()
    assert record["test/baseline_mae"] == pytest.approx(baseline, rel=1e-5), "the training mean"
    assert record["test/rmse"] >= record["test/mae"]


def test_weights_too_large_for_a_histogram_do_not_fail_the_run(make_cfg, tmp_path) -> None:
    """Weights past 1e20 (a run blowing up, still finite): TensorBoard cannot bin them; the run
    goes on to its own end, as the same grid point does in a vectorized sweep."""
    path = diabetes_csv(tmp_path / "diabetes.csv")
    overrides = ["model=scratch", "model.optimizer=sgd", "model.lr=2.0", "trainer.max_steps=40"]
    data = [f"data.path={path}", "data.target=label"]
    cfg = make_cfg("experiment=table", *data, *overrides, "trainer.precision=64-true", quiet=False)
    try:
        record = train(cfg)
    except DivergedError as err:
        assert err.step > 20, "it got past the histograms of step 20"
    else:
        assert record["status"] == "completed"


def test_categorical_one_hot_encodes_a_number_column(tmp_path) -> None:
    frame = TASK_TABLES["two numbers"][0].assign(code=lambda f: np.arange(len(f)) % 3 + 1)
    dm = CsvDataModule(path=str(write(frame, tmp_path / "t.csv")), target="y", categorical=["code"])
    dm.setup()
    assert dm.feature_names == ["x", "z", "code=1", "code=2", "code=3"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "data.path is not set: a CSV experiment reads your table"),
        (["data.path=PATH", "data.batch_size=0"], "data.batch_size=0 is not allowed"),
        (["data.path=PATH", "data.missing=guess"], "data.missing='guess' is unknown"),
        (["data.path=PATH", "data.drop=[nope]"], "data.drop names 'nope', not a column of"),
    ],
)
def test_table_config_errors_are_one_line(make_cfg, tmp_path, overrides, message) -> None:
    from experiments.errors import ExperimentError
    from experiments.run.config import check_config

    path = write(TASK_TABLES["two numbers"][0], tmp_path / "t.csv")
    cfg = make_cfg(
        "experiment=table", "data.target=y", *(o.replace("PATH", str(path)) for o in overrides)
    )
    with pytest.raises(ExperimentError, match=re.escape(message)):
        check_config(cfg)


def test_table_output_layer_and_loss_follow_the_task(make_cfg, tmp_path) -> None:
    from experiments.run.config import check_config

    expected = {"binary": ("sigmoid", "bce"), "multiclass": ("softmax", "cross_entropy")}
    expected["regression"] = ("identity", "mse")
    for name in ("two numbers", "text classes", "real numbers"):
        frame, task = TASK_TABLES[name]
        path = write(frame, tmp_path / f"{task}.csv")
        cfg = make_cfg("experiment=table", f"data.path={path}", "data.target=y")
        check_config(cfg)
        assert (cfg.model.output_activation, cfg.model.loss) == expected[task]
    cfg = make_cfg("experiment=table", f"data.path={path}", "data.target=y", "model.loss=mae")
    with pytest.raises(ConfigError, match=re.escape("model.loss='mae' is unknown")):
        check_config(cfg)


@pytest.mark.slow
def test_the_table_recipe_lands_near_scikit_learn(tmp_path) -> None:
    """On scikit-learn's tables as CSV, experiment=table's one recipe (mean over seeds 0-4)
    within 0.02 test accuracy, or 0.05 R^2, of LogisticRegression / LinearRegression."""
    from helpers import ROOT

    from experiments.benchmarks.tables import compare

    table = compare(ROOT, tmp_path, ["scratch", "mlp"], range(5))
    for row in table.to_dict("records"):
        allowed = 0.05 if row["metric"] == "test/r2" else 0.02
        for model in ("scratch", "mlp"):
            assert row[model] >= row["scikit-learn"] - allowed, (row["table"], model, table)
