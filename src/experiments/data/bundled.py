"""Tables bundled with scikit-learn (no download), through the same pipeline as a user's CSV:
iris (150 rows, 3 classes, text labels) and digits (1,797 8x8 images, 10 classes)."""

from __future__ import annotations

import numpy as np

from experiments.data.frame import FrameDataModule
from experiments.data.prepare import RawTable
from experiments.data.reader import read_bundled_table
from experiments.tasks import RawPredict


class BundledDataModule(FrameDataModule):
    """`data.dataset`: iris or digits. Digits adds a picture of the misclassified test images."""

    def __init__(self, dataset: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (1, 8, 8) if self.dataset == "digits" else ()

    def read(self) -> RawTable:
        return read_bundled_table(self.dataset, self.options)

    def pictures(self, predict: RawPredict) -> dict:
        if self.dataset != "digits":
            return {}
        from experiments import figures

        x_test, codes = self.splits.x_test, self.splits.y_test.ravel().astype(int)
        names = np.asarray(self.task.classes)
        guessed = self.task.predicted(predict(x_test)).numpy()
        images = x_test.reshape(len(x_test), *self.image_shape[1:])
        return {
            "misclassified_digits": figures.misclassified_images(
                images, names[codes].tolist(), names[guessed].tolist()
            )
        }
