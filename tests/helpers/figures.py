"""`LessonFigures` that also writes the series it plots (`loss_curves.json`), so a test can assert
the plotted points, not the PNG (`callbacks.figures._target_=helpers.figures.SeriesFigures`)."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.run.lesson_figures import LessonFigures


class SeriesFigures(LessonFigures):
    def on_fit_end(self, trainer, pl_module) -> None:
        super().on_fit_end(trainer, pl_module)
        train, val = self.curves()
        series = {"train": train, "val": val}
        (Path(trainer.default_root_dir) / "loss_curves.json").write_text(json.dumps(series))
