"""N-dimensional sub-pixel shuffle and its inverse (2D and 3D, per-axis factors).

``pixel_shuffle`` moves ``prod(scale)`` channel groups onto the spatial grid, as in the efficient
sub-pixel convolution of Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016. In 2D with an int scale it equals
``torch.nn.PixelShuffle``: input channel ``c * r**2 + i * r + j`` lands at output
``(c, h * r + i, w * r + j)``. In 3D the same row-major rule holds for ``(i, j, k)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from medsr.conventions import normalize_scale


def pixel_shuffle(x: Tensor, scale: int | Sequence[int]) -> Tensor:
    """Rearrange ``(B, C * prod(s), *n)`` into ``(B, C, *(n * s))``.

    Args:
        x: Batch with 2 or 3 spatial axes.
        scale: Upscaling factor, one int or one per spatial axis.

    Returns:
        The shuffled batch.

    Raises:
        ValueError: If the channel count is not divisible by ``prod(scale)``.

    Shape:
        - Input: ``(B, C * prod(s), n_1, ..., n_d)``
        - Output: ``(B, C, n_1 * s_1, ..., n_d * s_d)``
    """
    d = x.ndim - 2
    s = normalize_scale(scale, d)
    block = math.prod(s)
    b, c_in, *n = x.shape
    if c_in % block:
        raise ValueError(
            f"pixel_shuffle with scale {s} needs channels divisible by {block}, got {c_in}"
        )
    c = c_in // block
    y = x.reshape(b, c, *s, *n)
    # (B, C, s_1..s_d, n_1..n_d) -> (B, C, n_1, s_1, ..., n_d, s_d)
    order = [0, 1]
    for axis in range(d):
        order += [2 + d + axis, 2 + axis]
    y = y.permute(order)
    return y.reshape(b, c, *(ni * si for ni, si in zip(n, s)))


def pixel_unshuffle(x: Tensor, scale: int | Sequence[int]) -> Tensor:
    """Inverse of :func:`pixel_shuffle`: ``(B, C, *(n * s))`` -> ``(B, C * prod(s), *n)``.

    Args:
        x: Batch with 2 or 3 spatial axes.
        scale: Downscaling factor, one int or one per spatial axis.

    Returns:
        The unshuffled batch.

    Raises:
        ValueError: If a spatial size is not divisible by its factor.

    Shape:
        - Input: ``(B, C, m_1, ..., m_d)`` with ``m_i % s_i == 0``
        - Output: ``(B, C * prod(s), m_1 / s_1, ..., m_d / s_d)``
    """
    d = x.ndim - 2
    s = normalize_scale(scale, d)
    b, c, *m = x.shape
    if any(mi % si for mi, si in zip(m, s)):
        raise ValueError(
            f"pixel_unshuffle with scale {s} needs spatial sizes divisible by it, got {tuple(m)}"
        )
    n = [mi // si for mi, si in zip(m, s)]
    inter: list[int] = []
    for ni, si in zip(n, s):
        inter += [ni, si]
    y = x.reshape(b, c, *inter)
    # (B, C, n_1, s_1, ..., n_d, s_d) -> (B, C, s_1..s_d, n_1..n_d)
    order = [0, 1] + [3 + 2 * axis for axis in range(d)] + [2 + 2 * axis for axis in range(d)]
    y = y.permute(order)
    return y.reshape(b, c * math.prod(s), *n)


class PixelShuffle(nn.Module):
    """Module form of :func:`pixel_shuffle` (N-D, per-axis factors).

    Args:
        scale: Upscaling factor, one int or one per spatial axis.

    Shape:
        - Input: ``(B, C * prod(s), *n)``
        - Output: ``(B, C, *(n * s))``
    """

    def __init__(self, scale: int | Sequence[int]) -> None:
        super().__init__()
        self.scale = scale if isinstance(scale, int) else tuple(scale)

    def forward(self, x: Tensor) -> Tensor:
        return pixel_shuffle(x, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class PixelUnshuffle(nn.Module):
    """Module form of :func:`pixel_unshuffle` (N-D, per-axis factors).

    Args:
        scale: Downscaling factor, one int or one per spatial axis.

    Shape:
        - Input: ``(B, C, *(n * s))``
        - Output: ``(B, C * prod(s), *n)``
    """

    def __init__(self, scale: int | Sequence[int]) -> None:
        super().__init__()
        self.scale = scale if isinstance(scale, int) else tuple(scale)

    def forward(self, x: Tensor) -> Tensor:
        return pixel_unshuffle(x, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
