"""scikit-learn's bundled tables as lessons: iris (text labels) and digits (its recipe's accuracy,
and the picture of the misclassified test digits)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from helpers import non_trivial

from experiments.data import BundledDataModule
from experiments.run.training import train

PICTURES_ONLY = [
    "~logger",
    "~callbacks.histograms",
    "~callbacks.progress_bar",
    "~callbacks.best_checkpoint",
    "~callbacks.last_checkpoint",
    "trainer.enable_progress_bar=false",
]


def test_iris_keeps_its_text_labels() -> None:
    dm = BundledDataModule(dataset="iris", target="species")
    dm.setup()
    assert dm.task.name == "multiclass"
    assert dm.task.classes == ["setosa", "versicolor", "virginica"]
    assert (len(dm.splits.x_train), len(dm.splits.x_val), len(dm.splits.x_test)) == (96, 24, 30)


def test_digits_pictures_show_the_misclassified_test_digits(make_cfg) -> None:
    cfg = make_cfg("experiment=digits", "trainer.max_steps=10", *PICTURES_ONLY, quiet=False)
    record = train(cfg)
    assert record["test/acc"] < 1, "after 10 steps some digits are wrong"
    pictures = {p.stem: p for p in Path(cfg.output_dir).glob("*.png")}
    assert set(pictures) == {"loss_curves", "confusion_matrix", "misclassified_digits"}
    assert all(non_trivial(p) for p in pictures.values())
    confusion = json.loads((Path(cfg.output_dir) / "metrics.json").read_text())["test/confusion"]
    assert len(confusion) == 10 and all(len(row) == 10 for row in confusion), "10 x 10, nested"
    assert all(isinstance(n, int) for row in confusion for n in row)
    assert sum(confusion[k][k] for k in range(10)) / sum(map(sum, confusion)) == pytest.approx(
        record["test/acc"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_digits_recipe_beats_the_target(make_cfg, model: str) -> None:
    accs = [
        train(make_cfg("experiment=digits", f"model={model}", f"seed={s}"))["test/acc"]
        for s in range(5)
    ]
    assert statistics.mean(accs) >= 0.95, accs
