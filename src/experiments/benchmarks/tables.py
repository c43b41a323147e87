"""`experiment=table` against scikit-learn on scikit-learn's own tables written as CSV files:
breast cancer (binary), wine and iris (multiclass), diabetes (regression).

Both sides see the same rows: the reference (LogisticRegression, or LinearRegression, with
scikit-learn's defaults) is fitted on the data module's training rows, scaled by its scaler, and
scored on its test rows. `recipe_grid` ranks candidate recipes on the validation splits only:
what chose `experiment=table`'s one default recipe.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = ("breast_cancer", "wine", "iris", "diabetes")
QUIET = ["callbacks=none", "~logger", "trainer.enable_progress_bar=false"]


def write_tables(folder: Path) -> dict[str, Path]:
    """Each table as `<folder>/<name>.csv`, its label column named `label`."""
    from sklearn import datasets

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in TABLES:
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        paths[name] = folder / f"{name}.csv"
        frame.rename(columns={"target": "label"}).to_csv(paths[name], index=False)
    return paths


def compose(root: Path, overrides: Sequence[str]):
    """conf/train.yaml with `overrides`, the run's extras off."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(root / "conf"), version_base="1.3"):
        return hydra_compose("train", overrides=[*QUIET, *overrides])


def table_overrides(path: Path, output_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        "experiment=table",
        f"data.path={path}",
        "data.target=label",
        f"output_dir={output_dir}",
        *extra,
    ]


def reference(root: Path, path: Path) -> tuple[str, float]:
    """(metric name, scikit-learn's test score) on the data module's own splits."""
    from hydra.utils import instantiate
    from sklearn.linear_model import LinearRegression, LogisticRegression

    cfg = compose(root, table_overrides(path, Path(tempfile.gettempdir())))
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    s = datamodule.splits
    scale = np.asarray(datamodule.scaler.scale)
    offset = np.asarray(datamodule.scaler.offset)
    x_train, x_test = (s.x_train - offset) / scale, (s.x_test - offset) / scale
    if datamodule.task.name == "regression":
        model = LinearRegression().fit(x_train, s.y_train.ravel())
        return "test/r2", float(model.score(x_test, s.y_test.ravel()))
    model = LogisticRegression(max_iter=10_000).fit(x_train, s.y_train.ravel())
    return "test/acc", float(model.score(x_test, s.y_test.ravel()))


def ours(root: Path, path: Path, extra: Sequence[str], seeds: Sequence[int]) -> list[dict]:
    """metrics.json of one `experiment=table` run per seed."""
    from experiments.run.training import train

    with tempfile.TemporaryDirectory() as tmp:
        return [
            train(compose(root, table_overrides(path, Path(tmp) / str(s), [*extra, f"seed={s}"])))
            for s in seeds
        ]


def compare(
    root: Path, folder: Path, models: Sequence[str], seeds: Sequence[int], extra: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per table: scikit-learn's test score, ours per model (mean over `seeds`)."""
    rows = []
    for name, path in write_tables(folder).items():
        metric, score = reference(root, path)
        row = {"table": name, "metric": metric, "scikit-learn": score}
        for model in models:
            runs = ours(root, path, [f"model={model}", *extra], seeds)
            row[model] = statistics.mean(r[metric] for r in runs)
            row[f"{model} - scikit-learn"] = row[model] - score
        rows.append(row)
    return pd.DataFrame(rows)


def recipe_grid(
    root: Path, folder: Path, recipes: dict[str, list[str]], seeds: Sequence[int]
) -> pd.DataFrame:
    """Mean validation loss of each recipe on each table (seeds averaged) and across tables,
    best first: validation splits only, test never looked at. The losses are on one scale
    (cross-entropy in nats; MSE of standardised targets), so their mean weighs tables alike."""
    rows = []
    for name, path in write_tables(folder).items():
        for recipe, extra in recipes.items():
            runs = ours(root, path, extra, seeds)
            rows.append(
                {
                    "recipe": recipe,
                    "table": name,
                    "val/loss": statistics.mean(r["val/loss"] for r in runs),
                }
            )
    frame = pd.DataFrame(rows).pivot(index="recipe", columns="table", values="val/loss")
    frame["mean val/loss"] = frame.mean(axis=1)
    return frame.sort_values("mean val/loss")


def main(root: Path, seeds: Sequence[int] = range(5)) -> pd.DataFrame:
    """Print (markdown) and return `compare` for both models, seeds 0-4."""
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")  # Lightning's hints, once per run: not what this reports
    with tempfile.TemporaryDirectory() as tmp:
        table = compare(root, Path(tmp), ["scratch", "mlp"], seeds)
    print(table.to_markdown(index=False, floatfmt=".4f"))
    return table
