"""A convnet's pictures, beside the misclassified digits in TensorBoard's Images tab: the first
layer's learned filters, and one test image's feature maps after each convolution block.

Read from the trained network itself (either model's: both are `Unflatten, Conv2d, act, ...`,
core/convnet.py), after testing; `LessonFigures` saves and publishes them like the others.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn


def convnet_pictures(model, x_test: Tensor) -> dict:
    """`first_layer_filters` and `feature_maps` (of the first test row), or nothing for a
    dense network."""
    if not getattr(model.arch, "channels", ()):
        return {}
    from experiments import figures  # noqa: F401  (matplotlib's Agg backend, set there)

    net = model.net
    first = next(layer for layer in net if _is_conv(layer))
    image, maps = block_outputs(net, x_test[:1])
    return {
        "first_layer_filters": filters_figure(first.weight.detach().cpu().double().numpy()),
        "feature_maps": maps_figure(image, maps),
    }


def _is_conv(layer: nn.Module) -> bool:
    weight = getattr(layer, "weight", None)
    return weight is not None and weight.dim() == 4


def block_outputs(net: nn.Sequential, x: Tensor) -> tuple[np.ndarray, list[np.ndarray]]:
    """One input row as its image (C, H, W), and the activation after each convolution."""
    weight = next(net.parameters())
    x = x.to(weight.device, weight.dtype)
    image, maps, after_conv = None, [], False
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            if image is None:  # the Unflatten: the input as an image
                image = x[0].cpu().double().numpy()
            elif after_conv:  # the activation following a convolution
                maps.append(x[0].cpu().double().numpy())
            after_conv = _is_conv(layer)
    return image, maps


def filters_figure(weight: np.ndarray):
    """Each output channel's kernel (a row of input channels), on one symmetric colour scale:
    red positive, blue negative."""
    import matplotlib.pyplot as plt

    out, cin = weight.shape[:2]
    columns = min(out, 8)
    rows = math.ceil(out / columns) * cin
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.0, rows * 1.0 + 0.6), squeeze=False
    )
    limit = float(np.abs(weight).max()) or 1.0
    for ax in axes.ravel():
        ax.axis("off")
    for o in range(out):
        for c in range(cin):
            ax = axes[(o // columns) * cin + c, o % columns]
            ax.imshow(weight[o, c], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"{o}" if cin == 1 else f"{o}/in {c}", fontsize=8)
    kh, kw = weight.shape[2:]
    fig.suptitle(f"First convolution's filters: {out} x {cin} kernels of {kh}x{kw}")
    fig.tight_layout()
    return fig


def maps_figure(image: np.ndarray, maps: list[np.ndarray]):
    """The input image, then a row of feature maps per convolution block (after its
    activation), each map on its own grey scale."""
    import matplotlib.pyplot as plt

    columns = max(8, *(min(len(m), 16) for m in maps))
    fig, axes = plt.subplots(
        1 + len(maps), columns, figsize=(columns * 0.9, (1 + len(maps)) * 1.1 + 0.6), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(_as_picture(image), cmap="gray_r", interpolation="nearest")
    axes[0, 0].set_title("input", fontsize=8)
    for block, m in enumerate(maps, 1):
        for c in range(min(len(m), columns)):
            axes[block, c].imshow(m[c], cmap="viridis", interpolation="nearest")
            axes[block, c].set_title(f"b{block} c{c}", fontsize=7)
    fig.suptitle("Feature maps of one test image, after each convolution block's activation")
    fig.tight_layout()
    return fig


def _as_picture(image: np.ndarray) -> np.ndarray:
    """(1, H, W) as a grey (H, W); (3, H, W) as RGB (H, W, 3) stretched to [0, 1]."""
    if len(image) == 1:
        return image[0]
    low, high = image.min(), image.max()
    unit = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.moveaxis(unit, 0, -1)
