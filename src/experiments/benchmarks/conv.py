"""Scratch Conv2d (im2col, hand-written backward) against torch's conv2d and autograd, on
digits_cnn's convolutions: scikit-learn digits as 1x8x8 images, batch 64, float32, CPU.

One step is forward + backward of both convolutions, each on its own input: 1 -> 8 channels on
8x8 (the first layer: no input gradient) and 8 -> 16 on 4x4 (after a 2x2 max-pool: the input
gradient too), 3x3 kernels, padding 1. The two sides alternate round by round, so a slower
moment of a shared machine falls on both; the figures are medians over rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from experiments.core.conv import Conv2d

BATCH = 64
# (in channels, out channels, image side, the layer's input needs a gradient)
LAYERS = ((1, 8, 8, False), (8, 16, 4, True))


Case = tuple[Conv2d, Tensor, Tensor, bool]


def digits_cnn_cases() -> list[Case]:
    """Each layer (float32) with an input batch and an output gradient of its shapes; the input
    requires a gradient where the layer computes one (the scratch side runs under no_grad)."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for cin, cout, side, input_grad in LAYERS:
        layer = Conv2d(cin, cout, 3, padding=1).float()
        x = torch.randn(BATCH, cin, side, side, generator=generator, dtype=torch.float32)
        grad = torch.randn(BATCH, cout, side, side, generator=generator, dtype=torch.float32)
        cases.append((layer, x.requires_grad_(input_grad), grad, input_grad))
    return cases


def scratch_step(cases: list[Case]) -> None:
    with torch.no_grad():
        for layer, x, grad, input_grad in cases:
            layer.forward(x)
            layer.backward(grad, input_grad=input_grad)


def torch_step(cases: list[Case]) -> None:
    for layer, x, grad, _ in cases:
        layer.weight.grad = layer.bias.grad = None  # as zero_grad(set_to_none=True)
        F.conv2d(x, layer.weight, layer.bias, padding=1).backward(grad)


def _seconds(step: Callable[[], None], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - started) / repeats


def conv_figures(rounds: int = 15, repeats: int = 200) -> dict[str, float]:
    """Median µs per step of each side and their ratio (scratch / torch)."""
    cases = digits_cnn_cases()
    scratch, reference = [], []
    for _ in range(rounds):
        scratch.append(_seconds(lambda: scratch_step(cases), repeats))
        reference.append(_seconds(lambda: torch_step(cases), repeats))
    ours, theirs = statistics.median(scratch), statistics.median(reference)
    return {
        "scratch Conv2d forward+backward, µs": ours * 1e6,
        "F.conv2d + autograd backward, µs": theirs * 1e6,
        "scratch Conv2d / torch": ours / theirs,
    }


def conv_ratio(rounds: int = 15, repeats: int = 200) -> float:
    """Scratch Conv2d's time over torch's on digits_cnn's shapes (target: <= 1.5)."""
    return conv_figures(rounds, repeats)["scratch Conv2d / torch"]


if __name__ == "__main__":
    print(conv_figures())
