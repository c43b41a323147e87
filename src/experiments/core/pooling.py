"""Pooling by hand: max and average over each window of each channel, on core/im2col.py's
windows; the backward is col2im of the windows' gradients, so where windows overlap
(stride < kernel) their gradients add up. No padding, no ceil_mode: torch.nn's defaults.
Inputs are (N, C, H, W) as torch's; nothing here uses autograd.
"""

from __future__ import annotations

from torch import Tensor, nn

from experiments.core.im2col import Pair, col2im, pair, patches


class _Pool2d(nn.Module):
    def __init__(self, kernel_size: Pair, stride: Pair | None = None) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size)
        self.stride = self.kernel_size if stride is None else pair(stride)

    def windows(self, x: Tensor) -> Tensor:
        """x's windows as an (N, Ho, Wo, kh, kw, C) view; remembers the shapes backward needs."""
        windows = patches(x.permute(0, 2, 3, 1), self.kernel_size, self.stride)
        self.windows_shape, self.size = windows.shape, x.shape[2:]
        return windows

    def to_input(self, grad_windows: Tensor) -> Tensor:
        """col2im of (N, Ho, Wo, kh·kw, C) window gradients, as the input's (N, C, H, W)."""
        grad = col2im(grad_windows.reshape(self.windows_shape), self.size, self.stride)
        return grad.permute(0, 3, 1, 2)


class MaxPool2d(_Pool2d):
    """m[n, c, i, j] = max over the window (p, q) of x[n, c, s·i + p, s·j + q].

    dL/dx[n, c, u, v] = Σ over windows (i, j) whose argmax is (u, v) of dL/dm[n, c, i, j]:
    each window's gradient goes to one position, its argmax, and windows that overlap and share
    it add up. Ties: the argmax is the first maximum in the window's row-major order (row p,
    then column q), which is the position torch's CPU kernel picks (and `Tensor.max(dim)`
    returns the first maximal index), so a window of equal values sends its whole gradient to
    its top-left entry.
    """

    def forward(self, x: Tensor) -> Tensor:
        windows = self.windows(x).flatten(3, 4)  # (N, Ho, Wo, kh·kw, C): a copy
        m, self.argmax = windows.max(dim=3, keepdim=True)
        return m.squeeze(3).permute(0, 3, 1, 2)

    def backward(self, grad_m: Tensor) -> Tensor:
        g = grad_m.permute(0, 2, 3, 1).unsqueeze(3)  # (N, Ho, Wo, 1, C)
        n, ho, wo, kh, kw, c = self.windows_shape
        grad_windows = g.new_zeros(n, ho, wo, kh * kw, c).scatter_(3, self.argmax, g)
        return self.to_input(grad_windows)


class AvgPool2d(_Pool2d):
    """a[n, c, i, j] = (1 / (kh·kw)) Σ_{p, q} x[n, c, s·i + p, s·j + q].

    dL/dx[n, c, u, v] = Σ over windows (i, j) covering (u, v) of dL/da[n, c, i, j] / (kh·kw):
    every position of a window gets an equal share of its gradient.
    """

    def forward(self, x: Tensor) -> Tensor:
        return self.windows(x).mean(dim=(3, 4)).permute(0, 3, 1, 2)  # no copy of the windows

    def backward(self, grad_a: Tensor) -> Tensor:
        n, ho, wo, kh, kw, c = self.windows_shape
        share = grad_a.permute(0, 2, 3, 1).unsqueeze(3) / (kh * kw)  # (N, Ho, Wo, 1, C)
        return self.to_input(share.expand(n, ho, wo, kh * kw, c))
