"""The readable references: convolution and pooling as plain loops over output positions.

Each function is the formula of its layer's docstring (core/conv.py, core/pooling.py) written
out one output element at a time: slow, and the definition the im2col layers are tested
against. Inputs are (N, C, H, W), no autograd.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.nn import functional as F

from experiments.core.im2col import Pair, out_size, pair


def _positions(*sizes: int) -> Iterator[tuple[int, ...]]:
    """Every index of a tensor of these sizes, in row-major order."""
    return itertools.product(*(range(s) for s in sizes))


def conv2d_naive_forward(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: Pair = 1, padding: Pair = 0
) -> Tensor:
    """z[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] x̃[n, c, s·i + p, s·j + q]."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    (n, _, h, w), (out, _, kh, kw) = x.shape, weight.shape
    xp = F.pad(x, (pw, pw, ph, ph))
    z = x.new_zeros(n, out, out_size(h, kh, sh, ph), out_size(w, kw, sw, pw))
    for b, o, i, j in _positions(*z.shape):
        window = xp[b, :, sh * i : sh * i + kh, sw * j : sw * j + kw]
        z[b, o, i, j] = (weight[o] * window).sum() + (0 if bias is None else bias[o])
    return z


def conv2d_naive_backward(
    x: Tensor, weight: Tensor, grad_z: Tensor, stride: Pair = 1, padding: Pair = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """(dL/dx, dL/dW, dL/db): each output's gradient sent back along the products it summed."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    kh, kw = weight.shape[2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    grad_xp, grad_w = torch.zeros_like(xp), torch.zeros_like(weight)
    for b, o, i, j in _positions(*grad_z.shape):
        rows, cols = slice(sh * i, sh * i + kh), slice(sw * j, sw * j + kw)
        grad_w[o] += grad_z[b, o, i, j] * xp[b, :, rows, cols]
        grad_xp[b, :, rows, cols] += grad_z[b, o, i, j] * weight[o]
    h, w = x.shape[2:]
    return grad_xp[:, :, ph : ph + h, pw : pw + w], grad_w, grad_z.sum((0, 2, 3))


def _pool_windows(
    x: Tensor, kernel: int, stride: int
) -> Iterator[tuple[int, int, int, int, int, int, Tensor]]:
    """(n, c, i, j, top, left, window) for every pooling window of each channel."""
    n, c, h, w = x.shape
    for b, ch, i, j in _positions(n, c, out_size(h, kernel, stride), out_size(w, kernel, stride)):
        top, left = stride * i, stride * j
        yield b, ch, i, j, top, left, x[b, ch, top : top + kernel, left : left + kernel]


def _pool_naive_forward(x: Tensor, kernel: int, stride: int, reduce) -> Tensor:
    """out[n, c, i, j] = reduce(window) for every window."""
    n, c, h, w = x.shape
    out = x.new_empty(n, c, out_size(h, kernel, stride), out_size(w, kernel, stride))
    for b, ch, i, j, _, _, window in _pool_windows(x, kernel, stride):
        out[b, ch, i, j] = reduce(window)
    return out


def _pool_naive_backward(x: Tensor, grad_out: Tensor, kernel: int, stride: int, local) -> Tensor:
    """dL/dx: each window's dL/dout times dout/dwindow (`local(window)`, a kernel x kernel table),
    added onto the pixels it came from (overlapping windows add up)."""
    grad_x = torch.zeros_like(x)
    for b, ch, i, j, top, left, window in _pool_windows(x, kernel, stride):
        share = grad_out[b, ch, i, j] * local(window)
        grad_x[b, ch, top : top + kernel, left : left + kernel] += share
    return grad_x


def _first_maximum(window: Tensor) -> Tensor:
    """dmax/dwindow: 1 at the first maximum in row-major order (torch's choice at a tie), else 0."""
    best = (0, 0)
    for p, q in _positions(*window.shape):
        if window[p, q] > window[best]:  # strictly greater: the first maximum stays
            best = (p, q)
    one_hot = torch.zeros_like(window)
    one_hot[best] = 1.0
    return one_hot


def _equal_shares(window: Tensor) -> Tensor:
    """dmean/dwindow: 1 / kernel² everywhere."""
    return torch.full_like(window, 1.0 / window.numel())


def max_pool2d_naive_forward(x: Tensor, kernel: int, stride: int | None = None) -> Tensor:
    """m[n, c, i, j] = max of the window."""
    return _pool_naive_forward(x, kernel, stride or kernel, Tensor.max)


def max_pool2d_naive_backward(
    x: Tensor, grad_m: Tensor, kernel: int, stride: int | None = None
) -> Tensor:
    """Each window's gradient to its first maximum in row-major order (torch's choice)."""
    return _pool_naive_backward(x, grad_m, kernel, stride or kernel, _first_maximum)


def avg_pool2d_naive_forward(x: Tensor, kernel: int, stride: int | None = None) -> Tensor:
    """a[n, c, i, j] = mean of the window."""
    return _pool_naive_forward(x, kernel, stride or kernel, Tensor.mean)


def avg_pool2d_naive_backward(
    x: Tensor, grad_a: Tensor, kernel: int, stride: int | None = None
) -> Tensor:
    """Each window's gradient shared equally among its kernel² positions."""
    return _pool_naive_backward(x, grad_a, kernel, stride or kernel, _equal_shares)
