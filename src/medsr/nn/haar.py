"""One-level orthonormal Haar wavelet transform (DWT) and its inverse, 2D and 3D.

The transform is separable. Along one axis, neighbouring samples ``a = x[2k]`` and
``b = x[2k + 1]`` become a low-pass coefficient ``(a + b) / sqrt(2)`` and a high-pass
coefficient ``(a - b) / sqrt(2)`` (the sign convention of PyWavelets' ``'haar'``). Applying this
to every spatial axis gives ``2 ** spatial_dims`` sub-bands at half the size: 4 in 2D
(LL, LH, HL, HH) and 8 in 3D (LLL + 7 high bands). The filter bank is orthonormal, so the
transform preserves energy (``sum(x**2) == sum(bands**2)``) and its inverse is its transpose.

Band layout: the bands are stacked band-major along the channel axis, ``(B, n_bands * C, ...)``
with channel ``band * C + c``. The band index written in binary has one bit per spatial axis,
first axis most significant, 0 = low and 1 = high: band 0 is the all-low-pass band
(LL / LLL) and band ``n_bands - 1`` the all-high-pass band.

Reference: A. Haar, "Zur Theorie der orthogonalen Funktionensysteme", Math. Ann. 69, 1910;
S. Mallat, "A theory for multiresolution signal decomposition: the wavelet representation",
IEEE TPAMI 11(7), 1989.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def _spatial_dims_of(x: Tensor, spatial_dims: int | None) -> int:
    dims = x.ndim - 2 if spatial_dims is None else spatial_dims
    if dims not in (2, 3):
        raise ValueError(
            f"Haar DWT supports 2D (B, C, H, W) and 3D (B, C, D, H, W) batches, got shape "
            f"{tuple(x.shape)} with spatial_dims={spatial_dims!r}"
        )
    if x.ndim != dims + 2:
        raise ValueError(
            f"expected a tensor with {dims + 2} axes for spatial_dims={dims}, got {tuple(x.shape)}"
        )
    return dims


def _split_axis(x: Tensor, axis: int) -> tuple[Tensor, Tensor]:
    even = x.narrow(axis, 0, x.shape[axis] // 2 * 2)
    shape = list(even.shape)
    shape[axis : axis + 1] = [shape[axis] // 2, 2]
    pairs = even.reshape(shape)
    a = pairs.select(axis + 1, 0)
    b = pairs.select(axis + 1, 1)
    return (a + b) * _INV_SQRT2, (a - b) * _INV_SQRT2


def _merge_axis(low: Tensor, high: Tensor, axis: int) -> Tensor:
    a = (low + high) * _INV_SQRT2
    b = (low - high) * _INV_SQRT2
    out = torch.stack((a, b), dim=axis + 1)
    shape = list(low.shape)
    shape[axis] = shape[axis] * 2
    return out.reshape(shape)


def haar_dwt(x: Tensor, spatial_dims: int | None = None) -> Tensor:
    """One level of the orthonormal Haar DWT.

    Args:
        x: Batch to transform.
        spatial_dims: 2 or 3; inferred from ``x.ndim`` when omitted.

    Returns:
        The sub-bands, band-major along the channel axis (see the module docstring).

    Raises:
        ValueError: On a wrong rank or an odd spatial size (pad or crop to even sizes first).

    Shape:
        x: ``(B, C, *S)`` with every ``S`` even. Output: ``(B, 2**dims * C, *(S // 2))``.
    """
    dims = _spatial_dims_of(x, spatial_dims)
    spatial = tuple(x.shape[2:])
    if any(s % 2 for s in spatial):
        raise ValueError(
            f"Haar DWT needs even spatial sizes, got {spatial}; pad or crop each axis to an "
            "even length first"
        )
    bands = [x]
    for axis in range(2, 2 + dims):
        nxt: list[Tensor] = []
        for band in bands:
            low, high = _split_axis(band, axis)
            nxt.extend((low, high))
        bands = nxt
    return torch.cat(bands, dim=1)


def haar_idwt(y: Tensor, spatial_dims: int | None = None) -> Tensor:
    """Inverse of :func:`haar_dwt` (exact up to floating-point rounding).

    Args:
        y: Band-major sub-bands as returned by :func:`haar_dwt`.
        spatial_dims: 2 or 3; inferred from ``y.ndim`` when omitted.

    Returns:
        The reconstructed batch.

    Raises:
        ValueError: On a wrong rank or a channel count not divisible by ``2**spatial_dims``.

    Shape:
        y: ``(B, 2**dims * C, *S)``. Output: ``(B, C, *(2 * S))``.
    """
    dims = _spatial_dims_of(y, spatial_dims)
    n_bands = 2**dims
    if y.shape[1] % n_bands:
        raise ValueError(
            f"inverse Haar DWT needs a channel count divisible by {n_bands} (one group per band), "
            f"got {y.shape[1]} channels"
        )
    bands = list(torch.chunk(y, n_bands, dim=1))
    for axis in range(1 + dims, 1, -1):
        bands = [_merge_axis(bands[i], bands[i + 1], axis) for i in range(0, len(bands), 2)]
    return bands[0]


def split_bands(y: Tensor, spatial_dims: int | None = None) -> tuple[Tensor, Tensor]:
    """Split :func:`haar_dwt` output into the low band and the stacked high bands.

    Args:
        y: Output of :func:`haar_dwt`.
        spatial_dims: 2 or 3; inferred from ``y.ndim`` when omitted.

    Returns:
        ``(low, high)``: ``(B, C, ...)`` and ``(B, (2**dims - 1) * C, ...)``.
    """
    dims = _spatial_dims_of(y, spatial_dims)
    channels = y.shape[1] // 2**dims
    return y[:, :channels], y[:, channels:]


class HaarDWT(nn.Module):
    """Module form of :func:`haar_dwt` (no parameters).

    Args:
        spatial_dims: 2 or 3.

    Shape:
        Input ``(B, C, *S)`` with even ``S``; output ``(B, 2**spatial_dims * C, *(S // 2))``.
    """

    def __init__(self, *, spatial_dims: int) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims

    def forward(self, x: Tensor) -> Tensor:
        return haar_dwt(x, self.spatial_dims)


class HaarIDWT(nn.Module):
    """Module form of :func:`haar_idwt` (no parameters).

    Args:
        spatial_dims: 2 or 3.

    Shape:
        Input ``(B, 2**spatial_dims * C, *S)``; output ``(B, C, *(2 * S))``.
    """

    def __init__(self, *, spatial_dims: int) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims

    def forward(self, y: Tensor) -> Tensor:
        return haar_idwt(y, self.spatial_dims)
