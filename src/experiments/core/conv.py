"""Convolution by hand: im2col, one matrix product, and col2im for the way back.

Shapes follow `torch.nn.Conv2d`: inputs are (batch, channels, height, width), `weight` is
(out, in, kh, kw) and `bias` (out,), so a trained scratch layer's state_dict loads into
`torch.nn.Conv2d` unchanged. As in core/layers.py, `forward` caches what `backward` needs,
`backward(grad_out)` returns the gradient with respect to the input and stores the parameters'
in `.grad`; nothing here uses autograd (callers run it under `torch.no_grad()`).

im2col lays every receptive field out as one column: for one image, `cols` is a
(C·kh·kw, Ho·Wo) table whose column l holds the window that output position l sees. A
convolution is then a single matrix product `W_flat @ cols`, with `W_flat` (out, C·kh·kw).
Here the columns are a strided view of the input (`as_strided`: no data is copied until the
matrix product needs it), and col2im, the way back, adds each column entry to the pixel it came
from (`F.fold`: windows overlap, so gradients add up). core/naive_conv.py holds the same layers
as plain loops: the reference these are tested against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Pair = int | tuple[int, int]


def pair(value: Pair) -> tuple[int, int]:
    """(v, v) for an int, as torch.nn's `_pair`."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Windows of `kernel` that fit along `size` (padded both sides), `stride` apart."""
    return (size + 2 * padding - kernel) // stride + 1


def windows(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[Tensor, tuple[int, int]]:
    """A (N, C, kh, kw, Ho, Wo) view of x's windows: [n, c, p, q, i, j] = x[n, c, s·i+p, s·j+q].
    No copy: every window shares x's memory. Also returns (Ho, Wo)."""
    n, c, h, w = x.shape
    ho, wo = out_size(h, kernel[0], stride[0]), out_size(w, kernel[1], stride[1])
    sn, sc, sh, sw = x.stride()
    view = x.as_strided(
        (n, c, *kernel, ho, wo), (sn, sc, sh, sw, sh * stride[0], sw * stride[1])
    )
    return view, (ho, wo)


def im2col(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[Tensor, tuple[int, int]]:
    """The windows as columns, (N, C·kh·kw, Ho·Wo): a copy, laid out for one matrix product."""
    view, (ho, wo) = windows(x, kernel, stride)
    n, c = x.shape[:2]
    return view.reshape(n, c * kernel[0] * kernel[1], ho * wo), (ho, wo)


def col2im(
    cols: Tensor,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> Tensor:
    """im2col's adjoint: (N, C·kh·kw, L) columns back to (N, C, H, W), each entry added to the
    pixel it was read from (overlapping windows sum), padding cropped off."""
    return F.fold(cols, size, kernel, padding=padding, stride=stride)


class Conv2d(nn.Module):
    """z[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · x̃[n, c, s·i + p, s·j + q],
    with x̃ the input zero-padded by `padding` on each side and s the stride.

    The chain rule, term by term:
        dL/dW[o, c, p, q] = Σ_{n, i, j} dL/dz[n, o, i, j] · x̃[n, c, s·i + p, s·j + q]
        dL/db[o]          = Σ_{n, i, j} dL/dz[n, o, i, j]
        dL/dx̃[n, c, u, v] = Σ over (o, i, j, p, q) with s·i + p = u, s·j + q = v of
                             dL/dz[n, o, i, j] · W[o, c, p, q]
    In im2col form, per image n, with G[n] = dL/dz[n] as (out, Ho·Wo):
        Z[n] = W_flat cols[n] + b,   dW_flat = Σ_n G[n] cols[n]^T,
        dcols[n] = W_flat^T G[n],    dL/dx = col2im(dcols), padding cropped.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.Conv2d's default: U(-1/√fan_in, 1/√fan_in) for the weights and the bias."""
        bound = 1 / math.sqrt(self.weight[0].numel())
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        ph, pw = self.padding
        padded = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x
        cols, (ho, wo) = im2col(padded, self.kernel_size, self.stride)
        w_flat = self.weight.reshape(len(self.weight), -1)
        z = w_flat @ cols  # Z[n] = W_flat cols[n], every image in one product
        if self.bias is not None:
            z += self.bias[:, None]
        self.cols, self.size = cols, x.shape[-2:]
        return z.view(len(x), -1, ho, wo)

    def backward(self, grad_z: Tensor, input_grad: bool = True) -> Tensor | None:
        n, out = grad_z.shape[:2]
        g = grad_z.reshape(n, out, -1)  # G[n]: (out, Ho·Wo)
        w_flat = self.weight.reshape(out, -1)
        self.weight.grad = (g @ self.cols.mT).sum(0).view_as(self.weight)  # Σ_n G[n] cols[n]^T
        if self.bias is not None:
            self.bias.grad = g.sum((0, 2))
        if not input_grad:
            return None
        return col2im(w_flat.T @ g, self.size, self.kernel_size, self.stride, self.padding)


class Flatten(nn.Module):
    """(N, C, H, W) -> (N, C·H·W), row-major as torch.flatten(x, 1); the backward only reshapes
    the gradient back (every element keeps its value: the Jacobian is a permutation-free
    identity)."""

    def forward(self, x: Tensor) -> Tensor:
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad: Tensor) -> Tensor:
        return grad.reshape(self.shape)
