"""Small tables written as a user's CSV: a messy one (text labels, a text feature, an id column,
empty cells) and one of each task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CULTIVARS = ["barbera", "barolo", "grignolino"]


def messy_frame(rows: int = 120) -> pd.DataFrame:
    """id (text), age and dose (numbers), site (text), cultivar (text label, learnable from
    dose and site); three empty cells: age in rows 3 and 8 of the frame, site in row 5."""
    rng = np.random.default_rng(0)
    site = rng.choice(["north", "south"], rows)
    dose = rng.normal(size=rows).round(3)
    score = dose + np.where(site == "north", 0.8, -0.8)
    label = np.digitize(score, [-0.5, 0.5])
    frame = pd.DataFrame(
        {
            "id": [f"P{i:03d}" for i in range(rows)],
            "age": rng.integers(20, 80, rows).astype(float),
            "site": site,
            "dose": dose,
            "cultivar": np.asarray(CULTIVARS)[label],
        }
    )
    frame.loc[[3, 8], "age"] = np.nan
    frame.loc[5, "site"] = np.nan
    return frame


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def task_tables(rows: int = 60) -> dict[str, tuple[pd.DataFrame, str]]:
    """One table per expected `data.task=auto` decision: (table, the task it should pick)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    base = pd.DataFrame({"x": x, "z": rng.normal(size=rows)})
    return {
        "two numbers": (base.assign(y=(x > 0).astype(int)), "binary"),
        "yes and no": (base.assign(y=np.where(x > 0, "yes", "no")), "binary"),
        "text classes": (base.assign(y=np.asarray(CULTIVARS)[np.arange(rows) % 3]), "multiclass"),
        "few whole numbers": (base.assign(y=np.arange(rows) % 4 + 1), "multiclass"),
        "many whole numbers": (base.assign(y=np.arange(rows) % 30), "regression"),
        "real numbers": (base.assign(y=2 * x + 0.1), "regression"),
    }


def diabetes_csv(path: Path) -> Path:
    """scikit-learn's bundled diabetes table (442 rows, 10 features, a regression label named
    `label`) written as a user's CSV."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "label"})
    return write(frame, path)
