"""im2col and col2im: every window of an image as one row of a table, and the way back.

For a kernel (kh, kw) moved with stride s over an (N, H, W, C) image, window (n, i, j) is
x[n, s·i : s·i + kh, s·j : s·j + kw, :]. `patches` views all of them at once as an
(N, Ho, Wo, kh, kw, C) tensor without copying (`as_strided`: neighbouring windows share
memory); reshaped to (N·Ho·Wo, kh·kw·C) it is the im2col table, and a convolution is one matrix
product with it. `col2im` is its adjoint: each entry of such a table is added back to the pixel it
was read from, so pixels that several windows share sum their gradients.

Channels come last (NHWC) here: a window's row then holds runs of kw·C numbers that lie next to
each other in memory, which makes copying the table several times faster than from (N, C, H, W)
on small images. The layers take and return torch's (N, C, H, W) shapes and permute views.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

Pair = int | tuple[int, int]


def pair(value: Pair) -> tuple[int, int]:
    """(v, v) for an int, as torch.nn's `_pair`."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Windows of `kernel` that fit along `size` (padded both sides), `stride` apart."""
    return (size + 2 * padding - kernel) // stride + 1


def patches(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """An (N, Ho, Wo, kh, kw, C) view of the windows of x (N, H, W, C):
    [n, i, j, p, q, c] = x[n, s·i + p, s·j + q, c]. Any strides of x will do: no copy."""
    n, h, w, c = x.shape
    ho, wo = out_size(h, kernel[0], stride[0]), out_size(w, kernel[1], stride[1])
    sn, sh, sw, sc = x.stride()
    return x.as_strided((n, ho, wo, *kernel, c), (sn, sh * stride[0], sw * stride[1], sh, sw, sc))


def col2im(cols: Tensor, size: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """patches' adjoint: (N, Ho, Wo, kh, kw, C) window entries summed into the (N, H, W, C)
    pixels they were read from (pixels no window reads get 0)."""
    n, ho, wo, kh, kw, c = cols.shape
    index = _pixel_of_entry(n, *size, c, ho, wo, kh, kw, *stride, cols.device)
    image = cols.new_zeros(n * size[0] * size[1] * c)
    return image.scatter_add_(0, index, cols.reshape(-1)).view(n, *size, c)


@lru_cache(maxsize=16)
def _pixel_of_entry(
    n: int, h: int, w: int, c: int, ho: int, wo: int, kh: int, kw: int, sh: int, sw: int,
    device: torch.device,
) -> Tensor:  # fmt: skip
    """For each entry [n, i, j, p, q, c] of `patches`, the flat position of the pixel
    [n, s·i + p, s·j + q, c] it came from: the same at every step, so built once per shape
    (and kept for the last 16 shapes: in int64, twice the bytes of a float32 table)."""

    def along(size: int, dim: int) -> Tensor:  # 0, 1, ..., size - 1 along dim of 6
        return torch.arange(size, device=device).view([size if d == dim else 1 for d in range(6)])

    row = along(ho, 1) * sh + along(kh, 3)
    col = along(wo, 2) * sw + along(kw, 4)
    return (((along(n, 0) * h + row) * w + col) * c + along(c, 5)).reshape(-1)
