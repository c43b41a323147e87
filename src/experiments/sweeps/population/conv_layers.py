"""The scratch convnet's layers (core/conv.py, core/pooling.py, core/convnet.py) with a leading
member dimension: a population of convnets side by side, every gradient by hand.

Parameters have the member dimension first: a convolution's `weight` is (members, out, in, kh,
kw), its `bias` (members, out). What flows between layers takes one of three layouts:

- shared: (N, C, H, W), the one batch every member sees (the data, after `MemberUnflatten`);
- wide: (N, members·C, H, W), member m's channels at m·C ... (m + 1)·C - 1: what the first
  convolution makes of a shared batch. Its windows are the same for every member, so the data is
  unfolded once (im2col) and the convolution is ONE matrix product,
  rows (N·Ho·Wo, kh·kw·C) @ every member's kernels (kh·kw·C, members·out), whose result is this
  layout as it stands (channels last in memory). Activations and pooling act on each channel
  alone, so they run on it as on one wide network; the next convolution or `MemberFlatten`
  turns it into
- per member: (members, N, C, H, W), each member its own input (after the first block, or
  every member its own batch, as with per-seed mini-batches); a convolution on it is one batched
  matrix product over the member dimension, each member's windows against its own kernels.

The formulas are core's, per member; pooling is core's, with the members folded into the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from experiments.core import pooling
from experiments.core.im2col import Pair, col2im, pair, patches
from experiments.models.run_layers import PlainCaches


def per_member(x: Tensor, members: int) -> Tensor:
    """A wide (N, members·C, H, W) tensor as a (members, N, C, H, W) view; a per-member one
    as it is."""
    return x if x.dim() == 5 else x.unflatten(1, (members, -1)).transpose(0, 1)


class MemberConv2d(PlainCaches, nn.Module):
    """One `core.conv.Conv2d` per member. `data_input`: this is the network's first
    convolution, so a 4-D input is the shared batch (else a 4-D input is wide).

    Shared input, with R the batch's windows as rows (N·Ho·Wo, K), K = kh·kw·C, and W_r every
    member's kernels as rows (members·out, K):
        Z = R W_r^T + b  (wide),   dW_r = G^T R  (G = dL/dZ as (N·Ho·Wo, members·out)).
    Per-member input, R_m (members, N·Ho·Wo, K) and W_m (members, out, K):
        Z_m = R_m W_m^T + b_m,   dW_m = G_m^T R_m,   dR_m = G_m W_m,   dL/dx = col2im(dR).
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        bias: bool = True,
        data_input: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        shape = (members, out_channels, in_channels, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(members, out_channels)) if bias else None
        self.data_input = data_input

    def kernels_as_rows(self) -> Tensor:
        """W_m: each member's kernels as (members, out, kh·kw·C), in the order of a row of R."""
        members, out = self.weight.shape[:2]
        return self.weight.permute(0, 1, 3, 4, 2).reshape(members, out, -1)

    def forward(self, x: Tensor) -> Tensor:
        members, out = self.weight.shape[:2]
        self.shared = self.data_input and x.dim() == 4
        self.input_shape = x.shape
        if self.shared:
            images = x.permute(0, 2, 3, 1)  # (N, H, W, C)
        else:
            images = per_member(x, members).permute(0, 1, 3, 4, 2).flatten(0, 1)  # (M·N, H, W, C)
        ph, pw = self.padding
        padded = F.pad(images, (0, 0, pw, pw, ph, ph)) if ph or pw else images
        windows = patches(padded, self.kernel_size, self.stride)  # (B, Ho, Wo, kh, kw, C)
        self.windows_shape, self.padded_size = windows.shape, padded.shape[1:3]
        batch, ho, wo = windows.shape[:3]
        kernels = self.kernels_as_rows()
        if self.shared:  # one matrix product for every member: (N·Ho·Wo, K) @ (K, M·out)
            self.rows = windows.reshape(batch * ho * wo, -1)
            flat = kernels.reshape(members * out, -1).T
            bias = None if self.bias is None else self.bias.reshape(-1)
            z = self.rows @ flat if bias is None else torch.addmm(bias, self.rows, flat)
            return z.view(batch, ho, wo, members * out).permute(0, 3, 1, 2)  # wide
        self.rows = windows.reshape(members, -1, kernels.shape[2])  # (M, N·Ho·Wo, K)
        if self.bias is None:
            z = torch.bmm(self.rows, kernels.mT)
        else:
            z = torch.baddbmm(self.bias.unsqueeze(1), self.rows, kernels.mT)
        n = batch // members
        return z.view(members, n, ho, wo, out).permute(0, 1, 4, 2, 3)  # (M, N, out, Ho, Wo)

    def backward(self, grad_z: Tensor, input_grad: bool = True) -> Tensor | None:
        members, out, cin, kh, kw = self.weight.shape
        if self.shared:  # G as (N·Ho·Wo, M·out): dW_r = G^T R, one matrix product
            g_wide = grad_z.permute(0, 2, 3, 1).reshape(len(self.rows), members * out)
            # (R^T G)^T, not G^T R: BLAS takes the long sum ~10x faster this way round
            grad_w = (self.rows.T @ g_wide).T.reshape(members, out, -1)
            g = None
        else:
            g = grad_z.permute(0, 1, 3, 4, 2).reshape(members, -1, out)  # (M, N·Ho·Wo, out)
            grad_w = (self.rows.mT @ g).mT
        grad_w = grad_w.reshape(members, out, kh, kw, cin).permute(0, 1, 4, 2, 3)
        self.weight.grad = grad_w.contiguous()
        if self.bias is not None:
            self.bias.grad = g_wide.sum(0).view(members, out) if g is None else g.sum(1)
        if not input_grad:
            return None
        if g is None:  # each member's gradient of the shared input
            g = g_wide.view(-1, members, out).transpose(0, 1)
        grad_rows = (g @ self.kernels_as_rows()).view(self._member_windows())  # dR_m = G_m W_m
        grad_padded = col2im(grad_rows, self.padded_size, self.stride)  # (M·N, Hp, Wp, C)
        (ph, pw), (h, w) = self.padding, self.padded_size
        grad = grad_padded[:, ph : h - ph, pw : w - pw].unflatten(0, (members, -1))
        grad = grad.permute(0, 1, 4, 2, 3)  # (M, N, C, H, W)
        if self.shared:  # the batch every member sees: the sum of their gradients
            return grad.sum(0)
        return (
            grad if len(self.input_shape) == 5 else grad.transpose(0, 1).reshape(self.input_shape)
        )

    def _member_windows(self) -> tuple[int, ...]:
        """(M·N, Ho, Wo, kh, kw, C): the windows' shape with every member's batch."""
        batch, *rest = self.windows_shape
        members = self.weight.shape[0]
        return (batch * members if self.shared else batch, *rest)


class _MemberPool:
    """Core's pooling on wide inputs as they are (each channel alone), and on per-member ones
    with the members folded into the batch. Windows that do not overlap (stride = size, torch's
    default) send their gradients back by a reshape rather than col2im: every pixel is in one
    window at most, and a population's col2im index (int64, one per window entry: 2.4 GB for
    256 digits_cnn members) is never built."""

    def to_input(self, grad_windows: Tensor) -> Tensor:
        if self.stride != self.kernel_size:
            return super().to_input(grad_windows)
        n, ho, wo, kh, kw, c = self.windows_shape
        grad = grad_windows.reshape(self.windows_shape).transpose(2, 3).reshape(n, ho * kh, -1, c)
        h, w = self.size
        grad = F.pad(grad, (0, 0, 0, w - wo * kw, 0, h - ho * kh))  # rows no window reads: 0
        return grad.permute(0, 3, 1, 2)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:
            return super().forward(x)
        return super().forward(x.flatten(0, 1)).unflatten(0, x.shape[:2])

    def backward(self, grad: Tensor) -> Tensor:
        if grad.dim() == 4:
            return super().backward(grad)
        return super().backward(grad.flatten(0, 1)).unflatten(0, grad.shape[:2])


class MemberMaxPool2d(_MemberPool, PlainCaches, pooling.MaxPool2d):
    __doc__ = pooling.MaxPool2d.__doc__


class MemberAvgPool2d(_MemberPool, PlainCaches, pooling.AvgPool2d):
    __doc__ = pooling.AvgPool2d.__doc__


class MemberUnflatten(nn.Module):
    """Rows (N, C·H·W), or each member's (members, N, C·H·W), as images (..., C, H, W)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(*x.shape[:-1], *self.shape)

    def backward(self, grad: Tensor, input_grad: bool = True) -> Tensor | None:
        return grad.flatten(-3) if input_grad else None


class MemberFlatten(nn.Module):
    """Each member's (N, C, H, W) as (N, C·H·W) in torch.flatten's order: (members, N, C·H·W)
    from a wide or per-member input; the backward reshapes the gradient back to the input's
    layout."""

    def __init__(self, members: int) -> None:
        super().__init__()
        self.members = members

    def forward(self, x: Tensor) -> Tensor:
        self.wide_shape = x.shape if x.dim() == 4 else None
        images = per_member(x, self.members)
        self.shape = images.shape
        return images.reshape(*images.shape[:2], -1)

    def backward(self, grad: Tensor) -> Tensor:
        images = grad.reshape(self.shape)  # (M, N, C, H, W)
        if self.wide_shape is None:
            return images
        return images.transpose(0, 1).reshape(self.wide_shape)
