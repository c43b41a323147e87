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

    def evaluate_members(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Validation accuracy of every member in one call (torchmetrics' `samplewise`); the
        test metrics, once per grid point's end, member by member."""
        if stage == "test":
            return super().evaluate_members(stage, pred, y)
        from torchmetrics.functional.classification import multiclass_accuracy

        guess = self.predicted(pred)
        labels = self.labels(y).expand_as(guess)
        k = max(2, pred.shape[-1])
        acc = multiclass_accuracy(guess, labels, k, average="micro", multidim_average="samplewise")
        return {f"{stage}/acc": acc}

    def classification_metrics(self, stage: str, pred: Tensor, labels: Tensor, k: int) -> dict:
        import torch
        from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

        guess = self.predicted(pred)
        metrics = {f"{stage}/acc": multiclass_accuracy(guess, labels, k, average="micro")}
        if stage == "test":
            counts = torch.bincount(labels, minlength=k)
            metrics["test/baseline_acc"] = counts.max() / counts.sum()
            metrics["test/f1_macro"] = multiclass_f1_score(guess, labels, k, average="macro")
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

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        from torchmetrics.functional.classification import binary_confusion_matrix

        labels = self.labels(y)
        metrics = self.classification_metrics(stage, pred, labels, 2)
        if stage == "test":
            # rows: true 0, 1; columns: predicted 0, 1
            (tn, fp), (fn, tp) = binary_confusion_matrix(self.predicted(pred), labels).float()
            metrics.update({"test/tn": tn, "test/fp": fp, "test/fn": fn, "test/tp": tp})
        return metrics

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

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        from torchmetrics.functional.classification import multiclass_confusion_matrix

        k = pred.shape[-1]
        labels = self.labels(y)
        metrics = self.classification_metrics(stage, pred, labels, k)
        if stage == "test":
            metrics["test/confusion"] = multiclass_confusion_matrix(
                self.predicted(pred), labels, num_classes=k
            )
        return metrics

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        columns = {f"probability_{c}": outputs[:, j] for j, c in enumerate(self.classes)}
        columns["predicted"] = _label_values(self.classes)[outputs.argmax(axis=1)]
        return columns
