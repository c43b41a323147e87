"""Convolution by hand: im2col, one matrix product, and col2im for the way back.

Shapes follow `torch.nn.Conv2d`: inputs are (batch, channels, height, width), `weight` is
(out, in, kh, kw) and `bias` (out,), so a trained scratch layer's state_dict loads into
`torch.nn.Conv2d` unchanged. As in core/layers.py, `forward` caches what `backward` needs,
`backward(grad_out)` returns the gradient with respect to the input and stores the parameters'
in `.grad`; nothing here uses autograd (callers run it under `torch.no_grad()`).

im2col (core/im2col.py) lays every receptive field out as one row of a table `rows`,
(N·Ho·Wo, kh·kw·C); a convolution is then a single matrix product with the kernels flattened
the same way. core/naive_conv.py holds the same layers as plain loops: the reference these are
tested against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from experiments.core.im2col import Pair, col2im, pair, patches


class Conv2d(nn.Module):
    """z[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · x̃[n, c, s·i + p, s·j + q],
    with x̃ the input zero-padded by `padding` on each side and s the stride.

    The chain rule, term by term:
        dL/dW[o, c, p, q] = Σ_{n, i, j} dL/dz[n, o, i, j] · x̃[n, c, s·i + p, s·j + q]
        dL/db[o]          = Σ_{n, i, j} dL/dz[n, o, i, j]
        dL/dx̃[n, c, u, v] = Σ over (o, i, j, p, q) with s·i + p = u, s·j + q = v of
                             dL/dz[n, o, i, j] · W[o, c, p, q]
    and dL/dx is dL/dx̃ with the padding cropped. In im2col form, with R the table of windows
    (N·Ho·Wo, kh·kw·C), W_r the kernels as rows (out, kh·kw·C) and G = dL/dz as (N·Ho·Wo, out):
        Z = R W_r^T + b,   dW_r = G^T R,   db = Σ_rows G,   dR = G W_r,   dL/dx̃ = col2im(dR).

    The output has torch's (N, out, Ho, Wo) shape but is channels-last in memory (a permuted
    view of Z, as torch.nn.Conv2d returns for a channels-last input); so is dL/dx.
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
        image = x.permute(0, 2, 3, 1)  # channels last: see core/im2col.py
        padded = F.pad(image, (0, 0, pw, pw, ph, ph)) if ph or pw else image
        windows = patches(padded, self.kernel_size, self.stride)  # (N, Ho, Wo, kh, kw, C)
        rows = windows.flatten(3).flatten(0, 2)  # R: a copy, one row per output position
        kernels = self.kernels_as_rows()
        z = rows @ kernels.T if self.bias is None else torch.addmm(self.bias, rows, kernels.T)
        self.rows, self.windows_shape, self.padded_size = rows, windows.shape, padded.shape[1:3]
        return z.view(*windows.shape[:3], -1).permute(0, 3, 1, 2)  # (N, out, Ho, Wo)

    def backward(self, grad_z: Tensor, input_grad: bool = True) -> Tensor | None:
        g = grad_z.permute(0, 2, 3, 1).reshape(len(self.rows), -1)  # G: (N·Ho·Wo, out)
        out, cin, kh, kw = self.weight.shape
        # dW_r = G^T R: the sum over the batch and the positions is the matrix product's
        grad_w = (g.T @ self.rows).view(out, kh, kw, cin).permute(0, 3, 1, 2)
        self.weight.grad = grad_w.contiguous()
        if self.bias is not None:
            self.bias.grad = g.sum(0)
        if not input_grad:
            return None
        grad_rows = (g @ self.kernels_as_rows()).view(self.windows_shape)  # dR = G W_r
        grad_padded = col2im(grad_rows, self.padded_size, self.stride)
        (ph, pw), (h, w) = self.padding, self.padded_size
        return grad_padded[:, ph : h - ph, pw : w - pw].permute(0, 3, 1, 2)

    def kernels_as_rows(self) -> Tensor:
        """W_r: the kernels as (out, kh·kw·C), in the order of a row of R."""
        return self.weight.permute(0, 2, 3, 1).reshape(len(self.weight), -1)


class Flatten(nn.Module):
    """(N, C, H, W) -> (N, C·H·W), in torch.flatten(x, 1)'s order. Every element keeps its
    value, so the backward only reshapes the gradient back to (N, C, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad: Tensor) -> Tensor:
        return grad.reshape(self.shape)
