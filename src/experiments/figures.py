"""The pictures of a run: loss curves, confusion matrix, decision boundary, predictions vs targets.

Each function returns a matplotlib Figure; `experiments.callbacks.LessonFigures` saves it as PNG
and sends it to TensorBoard's Images tab. matplotlib is imported here only, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
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


def confusion_matrix(probabilities: Tensor, labels: Tensor) -> Figure:
    from torchmetrics.classification import BinaryConfusionMatrix

    metric = BinaryConfusionMatrix()
    metric.update(probabilities.detach().cpu(), labels.long().cpu())
    fig, ax = metric.plot(labels=["0", "1"])
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    fig.set_size_inches(4.5, 4)
    return fig


def decision_boundary(
    predict: Callable[[Tensor], Tensor], points: Tensor, labels: Tensor, resolution: int = 200
) -> Figure:
    """P(class 1) over the unit square (and a margin, so corner points show whole), the 0.5
    contour, and the data points by label."""
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
