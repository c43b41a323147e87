"""Classification: binary (one probability) and multiclass (one probability per class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from experiments.tasks.base import RawPredict, Task, _as_float_tensor, _label_values

if TYPE_CHECKING:
    from torch import Tensor


class ClassificationTask(Task):
    """Class names, accuracy, macro F1, the majority-class baseline and a confusion picture."""

    metric = "acc"

    def __init__(self, classes: list[str] | None = None) -> None:
        self.classes = [str(c) for c in classes] if classes is not None else ["0", "1"]

    def predicted(self, outputs: Tensor) -> Tensor:
        """Class index per row."""
        raise NotImplementedError

    def labels(self, y: Tensor) -> Tensor:
        """True class index per row of the targets."""
        raise NotImplementedError

    def confusion_metrics(self, confusion: Tensor) -> dict[str, Tensor]:
        """The test metrics read off a confusion matrix (..., true class, predicted class)."""
        raise NotImplementedError

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        import torch
        from torchmetrics.functional.classification import (
            multiclass_accuracy,
            multiclass_confusion_matrix,
            multiclass_f1_score,
        )

        guess, labels, k = self.predicted(pred), self.labels(y), max(2, pred.shape[-1])
        metrics = {f"{stage}/acc": multiclass_accuracy(guess, labels, k, average="micro")}
        if stage == "test":
            counts = torch.bincount(labels, minlength=k)
            metrics["test/baseline_acc"] = counts.max() / counts.sum()
            metrics["test/f1_macro"] = multiclass_f1_score(guess, labels, k, average="macro")
            confusion = multiclass_confusion_matrix(guess, labels, num_classes=k)
            metrics.update(self.confusion_metrics(confusion))
        return metrics

    def evaluate_members(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """`evaluate` of every member in one call: torchmetrics' `samplewise` over the member
        dimension, and each member's confusion counts by one `one_hot` (member by member, the
        test metrics of 10,000 members took 2 s)."""
        import torch
        from torch.nn.functional import one_hot
        from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

        guess = self.predicted(pred)  # (members, rows)
        labels = self.labels(y).expand_as(guess)
        k = max(2, pred.shape[-1])
        each = {"average": "micro", "multidim_average": "samplewise"}
        metrics = {f"{stage}/acc": multiclass_accuracy(guess, labels, k, **each)}
        if stage == "test":
            counts = torch.bincount(labels[0], minlength=k)
            metrics["test/baseline_acc"] = (counts.max() / counts.sum()).expand(len(guess))
            each["average"] = "macro"
            metrics["test/f1_macro"] = multiclass_f1_score(guess, labels, k, **each)
            confusion = one_hot(labels * k + guess, k * k).sum(dim=-2).view(-1, k, k)
            metrics.update(self.confusion_metrics(confusion))
        return metrics

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        from experiments import figures

        truth = _as_float_tensor(y_raw).long().ravel()
        shown = {
            "confusion_matrix": figures.confusion_matrix(
                self.predicted(predict(x_raw)), truth, self.classes
            )
        }
        if len(self.classes) == 2 and x_raw.shape[1] == 2:
            points = _as_float_tensor(x_raw)
            shown["decision_boundary"] = figures.decision_boundary(predict, points, truth)
        return shown

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes)}


class BinaryTask(ClassificationTask):
    """One output: the probability of class 1 (the second class name); confusion counts."""

    name = "binary"
    model_defaults: ClassVar[dict[str, str]] = {"output_activation": "sigmoid", "loss": "bce"}

    def width(self, y_raw: np.ndarray) -> int:
        return 1

    def predicted(self, outputs: Tensor) -> Tensor:
        return (outputs[..., 0] > 0.5).long()

    def labels(self, y: Tensor) -> Tensor:
        return y[..., 0].long()

    def confusion_metrics(self, confusion: Tensor) -> dict[str, Tensor]:
        # rows: true 0, 1; columns: predicted 0, 1
        counts = confusion.float()
        names = {"tn": (0, 0), "fp": (0, 1), "fn": (1, 0), "tp": (1, 1)}
        return {f"test/{name}": counts[..., i, j] for name, (i, j) in names.items()}

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        chosen = (outputs[:, 0] > 0.5).astype(int)
        return {"probability": outputs[:, 0], "predicted": _label_values(self.classes)[chosen]}


class MulticlassTask(ClassificationTask):
    """One output per class (softmax probabilities), one-hot targets; the K x K confusion
    matrix (rows: true class) as `test/confusion`."""

    name = "multiclass"
    model_defaults: ClassVar[dict[str, str]] = {
        "output_activation": "softmax",
        "loss": "cross_entropy",
    }

    def width(self, y_raw: np.ndarray) -> int:
        return len(self.classes)

    def targets(self, y_raw: Any) -> Tensor:
        import torch
        from torch.nn.functional import one_hot

        codes = torch.as_tensor(np.asarray(y_raw, dtype=np.int64)).reshape(-1)
        return one_hot(codes, len(self.classes)).float()

    def predicted(self, outputs: Tensor) -> Tensor:
        return outputs.argmax(dim=-1)

    def labels(self, y: Tensor) -> Tensor:
        return y.argmax(dim=-1)

    def confusion_metrics(self, confusion: Tensor) -> dict[str, Tensor]:
        return {"test/confusion": confusion}

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        columns = {f"probability_{c}": outputs[:, j] for j, c in enumerate(self.classes)}
        columns["predicted"] = _label_values(self.classes)[outputs.argmax(axis=1)]
        return columns
