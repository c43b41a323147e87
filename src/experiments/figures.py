"""The pictures of a run: loss curves, confusion matrix, decision boundary, predictions vs targets,
misclassified digits.

Each function returns a matplotlib Figure; `experiments.run.lesson_figures.LessonFigures` saves
it as PNG and sends it to TensorBoard's Images tab. matplotlib is imported here only, on first use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:  # torch only where a picture needs it: a sweep's report draws without it
    from torch import Tensor


def loss_curves(
    train: Sequence[tuple[int, float]], val: Sequence[tuple[int, float]], loss_name: str
) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    for points, label, style in ((train, "train", "-"), (val, "validation", "o-")):
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, style, label=label, markersize=4)
    ax.set(xlabel="step", ylabel=f"loss ({loss_name})", title="Loss curves")
    if train and min(v for _, v in train) > 0:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(predicted: Tensor, truth: Tensor, names: Sequence[str]) -> Figure:
    """Counts of (true class, predicted class) on the test split, labelled with the class names."""
    from torchmetrics.classification import MulticlassConfusionMatrix

    # sync_on_compute off: under data-parallel training only rank 0 draws, so nothing to gather
    metric = MulticlassConfusionMatrix(num_classes=len(names), sync_on_compute=False)
    metric.update(predicted.detach().cpu().long().ravel(), truth.cpu().long().ravel())
    fig, ax = metric.plot(labels=list(names))
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    side = 4 + 0.35 * max(0, len(names) - 2)
    fig.set_size_inches(side + 0.5, side)
    return fig


def decision_boundary(
    predict: Callable[[Tensor], Tensor], points: Tensor, labels: Tensor, resolution: int = 200
) -> Figure:
    """P(class 1) over the unit square (and a margin, so corner points show whole), the 0.5
    contour, and the data points by label."""
    import torch

    axis = torch.linspace(-0.1, 1.1, resolution)
    grid_x, grid_y = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([grid_x.ravel(), grid_y.ravel()], dim=1)
    prob = predict(grid).reshape(resolution, resolution).detach().cpu()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    filled = ax.contourf(grid_x, grid_y, prob, levels=20, cmap="RdBu_r", vmin=0, vmax=1)
    ax.contour(grid_x, grid_y, prob, levels=[0.5], colors="black", linewidths=1.5)
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    labels = labels.ravel().cpu()
    for value, marker in ((0, "o"), (1, "s")):
        chosen = points[labels == value].cpu()
        ax.scatter(*chosen.T, marker=marker, s=120, c="white", edgecolors="black", label=value)
    ax.set(xlabel="x1", ylabel="x2", title="Decision boundary", aspect="equal")
    ax.legend(title="label", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    return fig


def predictions_vs_targets(predictions: Tensor, targets: Tensor) -> Figure:
    """One point per row and output; on the diagonal means exactly right."""
    predictions, targets = predictions.detach().cpu(), targets.detach().cpu()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for j in range(targets.shape[1]):
        ax.scatter(targets[:, j], predictions[:, j], s=60, label=f"output {j}")
    low = float(min(targets.min(), predictions.min()))
    high = float(max(targets.max(), predictions.max()))
    ax.plot([low, high], [low, high], "k--", linewidth=1, label="prediction = target")
    ax.set(xlabel="target", ylabel="prediction", title="Predictions vs targets (test)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def misclassified_images(
    images: np.ndarray, truth: Sequence[str], predicted: Sequence[str], limit: int = 24
) -> Figure:
    """Up to `limit` test images the model got wrong, each titled 'true -> predicted'."""
    wrong = [i for i, (t, p) in enumerate(zip(truth, predicted, strict=True)) if t != p][:limit]
    columns = 8
    rows = max(1, math.ceil(len(wrong) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3 + 0.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), wrong, strict=False):
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{truth[i]} -> {predicted[i]}", fontsize=9, color="firebrick")
    total = sum(t != p for t, p in zip(truth, predicted, strict=True))
    shown = f", {len(wrong)} shown" if total > len(wrong) else ""
    fig.suptitle(f"Misclassified test images: {total} of {len(truth)}{shown} (true -> predicted)")
    fig.tight_layout()
    return fig
