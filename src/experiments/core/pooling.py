"""Pooling by hand: max and average over windows, on the strided view of core/conv.py.

Each window is one column of im2col (here per channel: (N, C, kh·kw, Ho·Wo)); pooling reduces
the column, and the backward is col2im of the column gradients, so overlapping windows
(stride < kernel) add their gradients up. No padding, no ceil_mode: torch.nn's defaults. Nothing
here uses autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.core.conv import Pair, col2im, windows, pair


def channel_cols(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[Tensor, tuple[int, int]]:
    """Each channel's windows as columns, (N, C, kh·kw, Ho·Wo): a copy."""
    view, (ho, wo) = windows(x, kernel, stride)
    n, c = x.shape[:2]
    return view.reshape(n, c, kernel[0] * kernel[1], ho * wo), (ho, wo)


def cols_to_image(
    cols: Tensor, size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int]
) -> Tensor:
    """channel_cols' adjoint: (N, C, kh·kw, L) back to (N, C, H, W), overlaps summed."""
    n, c, k, length = cols.shape
    return col2im(cols.reshape(n, c * k, length), size, kernel, stride)


class _Pool2d(nn.Module):
    def __init__(self, kernel_size: Pair, stride: Pair | None = None) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size)
        self.stride = self.kernel_size if stride is None else pair(stride)


class MaxPool2d(_Pool2d):
    """m[n, c, i, j] = max over the window (p, q) of x[n, c, s·i + p, s·j + q].

    dL/dx[n, c, u, v] = Σ over windows (i, j) whose argmax is (u, v) of dL/dm[n, c, i, j]:
    each window's gradient goes to one position, its argmax; windows that overlap and share
    it add up. Ties: the argmax is the first maximum in the window's row-major order (row p,
    then column q), the position torch's CPU kernel picks (`torch.max(dim)` returns the first
    maximal index), so a window of equal values sends its whole gradient to its top-left.
    """

    def forward(self, x: Tensor) -> Tensor:
        cols, (ho, wo) = channel_cols(x, self.kernel_size, self.stride)
        m, self.argmax = cols.max(dim=2, keepdim=True)  # argmax: (N, C, 1, Ho·Wo)
        self.cols_shape, self.size = cols.shape, x.shape[-2:]
        return m.view(*x.shape[:2], ho, wo)

    def backward(self, grad_m: Tensor) -> Tensor:
        g = grad_m.reshape(*grad_m.shape[:2], 1, -1)
        grad_cols = g.new_zeros(self.cols_shape).scatter_(2, self.argmax, g)
        return cols_to_image(grad_cols, self.size, self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    """a[n, c, i, j] = (1 / (kh·kw)) Σ_{p, q} x[n, c, s·i + p, s·j + q].

    dL/dx[n, c, u, v] = Σ over windows (i, j) covering (u, v) of dL/da[n, c, i, j] / (kh·kw):
    every position of a window gets an equal share of its gradient.
    """

    def forward(self, x: Tensor) -> Tensor:
        view, (ho, wo) = windows(x, self.kernel_size, self.stride)  # no copy needed to average
        self.cols_shape = (*x.shape[:2], view.shape[2] * view.shape[3], ho * wo)
        self.size = x.shape[-2:]
        return view.mean(dim=(2, 3))

    def backward(self, grad_a: Tensor) -> Tensor:
        share = grad_a.reshape(*grad_a.shape[:2], 1, -1) / self.cols_shape[2]
        return cols_to_image(share.expand(self.cols_shape), self.size, self.kernel_size, self.stride)
