"""A labelled table, read and checked by `experiments.data.reader`, split, encoded and scaled:
the common part of a user's CSV (`CsvDataModule`) and scikit-learn's bundled tables
(`BundledDataModule`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from experiments.data.base import ArrayDataModule, Splits
from experiments.data.checks import check_target_scaling
from experiments.data.class_sizes import single_class_splits
from experiments.data.encoder import Encoder
from experiments.data.folds import check_folds, fold_indices
from experiments.data.prepare import RawTable, ReadOptions
from experiments.data.splits import split_indices
from experiments.tasks import make_task

log = logging.getLogger(__name__)


class FrameDataModule(ArrayDataModule):
    """Subclasses say where the table comes from (`read`).

    Splits as the heart lesson: test 20 %, random_state 42; validation carved (stratified when
    every class allows it) from the remaining rows, or, with `folds`, fold `fold` of them
    (`experiments.data.folds`). The encoder (one-hot categories, imputed
    values), the input scaler and, with `target_scaling=standard`, a regression's target mean
    and standard deviation are fitted on the training rows only.
    """

    def __init__(
        self,
        target: str = "target",
        task: str = "auto",
        max_classes: int = 20,
        missing: str = "error",
        drop: Sequence[str] = (),
        categorical: Sequence[str] = (),
        test_size: float = 0.2,
        val_size: float = 0.2,
        split_seed: int = 42,
        folds: int | None = None,
        fold: int | None = None,
        scaling: str = "standard",
        target_scaling: str = "none",
        sep: str = "auto",
        encoding: str = "utf-8",
        **kwargs,
    ) -> None:
        super().__init__(scaling=scaling, **kwargs)
        self.options = ReadOptions.from_config(
            dict(
                target=target,
                task=task,
                max_classes=max_classes,
                missing=missing,
                drop=drop,
                categorical=categorical,
                test_size=test_size,
                val_size=val_size,
                sep=sep,
                encoding=encoding,
            )
        )
        check_target_scaling(target_scaling)
        check_folds(folds, fold)
        self.folds, self.fold = folds, fold
        self.split_seed = split_seed
        self.target_scaling = target_scaling
        self.table: RawTable | None = None

    def read(self) -> RawTable:
        raise NotImplementedError

    def note_single_class_splits(self, table: RawTable, splits: dict) -> None:
        """A split whose labels are all one class: a warning, and `single_class_splits` in the
        run's metrics.json (`record_notes`)."""
        found = single_class_splits(table.labels, table.classes, splits)
        for split, name in found.items():
            log.warning(
                "the %s split's %d rows are all class %r: its accuracy says nothing about "
                "telling the classes apart (add rows of the other classes, or change "
                "data.split_seed)",
                split,
                len(splits[split]),
                name,
            )
        if found:
            self.record_notes["single_class_splits"] = found

    def load_splits(self) -> Splits:
        self.table = table = self.read()
        for note in table.notes:
            log.info("%s", note)
        classes = len(table.classes) if table.classes else 0
        test_size, seed = self.options.test_size, self.split_seed
        if self.folds:  # data.fold of data.folds validates; the test split is the same
            train, val, test = fold_indices(
                table.labels, classes, test_size, self.folds, self.fold, seed
            )
            log.info("cross-validation: fold %d of %d validates", self.fold, self.folds)
        else:
            train, val, test = split_indices(
                table.labels, classes, test_size, self.options.val_size, seed
            )
        if table.classes:
            self.note_single_class_splits(table, {"train": train, "val": val, "test": test})
        self.encoder = Encoder.fit(table.frame, table.text_columns, self.options.missing, train)
        for column, categories in self.encoder.categories.items():
            shown = ", ".join(categories[:5]) + (", ..." if len(categories) > 5 else "")
            log.info(
                "text column %r one-hot encoded: %d categories (%s), learned from the training "
                "rows; data.drop=[%s] leaves it out",
                column,
                len(categories),
                shown,
                column,
            )
        self.feature_names = self.encoder.feature_names
        if table.task == "regression":
            self.task = make_task(
                "regression",
                names=[self.options.target],
                standardize=self.target_scaling == "standard",
            )
        else:
            self.task = make_task(table.task, classes=table.classes)
        x = self.encoder.transform(table.frame)
        y = table.labels.reshape(-1, 1)
        x_train, x_val, x_test = (np.take(x, rows, axis=0) for rows in (train, val, test))
        return Splits(x_train, y[train], x_val, y[val], x_test, y[test])
