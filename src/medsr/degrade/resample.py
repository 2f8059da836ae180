"""Image-domain downsampling by integer per-axis factors: area, antialiased bicubic, decimation.

Grid convention (the same as :func:`medsr.geometry.rescale_affine` with factor ``1 / f``):
output voxel ``j`` along an axis downsampled by ``f`` is centred at input index ``(j + 1/2) f - 1/2``,
i.e. it covers input voxels ``j f .. j f + f - 1``. When ``N`` is not a multiple of ``f``,
``remainder="crop"`` drops the last ``N mod f`` voxels (``N // f`` outputs) and ``remainder="pad"``
keeps them in a last, partial block (``ceil(N / f)`` outputs) whose kernel is renormalised over the
voxels that exist (for ``area``: the mean of the partial block). Either way the first voxel's edge
stays where it was, so the affine is the same; only the far edge of the field of view moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np

from medsr.degrade._common import apply_along, check_spatial, int_factors, spatial_axes
from medsr.errors import ConfigError

Remainder: TypeAlias = Literal["crop", "pad"]
REMAINDERS: tuple[str, ...] = ("crop", "pad")


def output_length(n: int, factor: int, *, remainder: Remainder = "crop") -> int:
    """Output samples on an axis of ``n`` downsampled by ``factor``.

    Raises:
        ConfigError: For an unknown ``remainder`` or an axis shorter than the factor with ``crop``.
    """
    if remainder == "crop":
        if n < factor:
            raise ConfigError(
                f"axis of {n} voxels is shorter than factor {factor}; use --remainder pad "
                "(remainder='pad')"
            )
        return n // factor
    if remainder == "pad":
        return math.ceil(n / factor)
    raise ConfigError(f"unknown remainder {remainder!r}; use one of {REMAINDERS}")


def downsample_area(
    x: np.ndarray,
    *,
    spatial_dims: int,
    factor: int | Sequence[int],
    remainder: Remainder = "crop",
) -> np.ndarray:
    """Block mean over ``f_1 x ... x f_n`` voxels (the anti-aliased "area" downsampler).

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        factor: Integer factor per spatial axis (or one for all).
        remainder: ``"crop"`` or ``"pad"`` for axes not divisible by their factor (module docstring).

    Returns:
        Float32 array.

    Raises:
        ConfigError: For bad factors or arrays.

    Shape:
        x: ``(..., N_1, ..., N_n)`` -> ``(..., N_1 // f_1, ...)`` (``ceil`` with ``pad``).
    """
    a = check_spatial(x, spatial_dims=spatial_dims).astype(np.float64)
    for ax, f in zip(spatial_axes(a.ndim, spatial_dims), int_factors(factor, spatial_dims)):
        if f == 1:
            continue
        n = a.shape[ax]
        m = output_length(n, f, remainder=remainder)
        moved = np.moveaxis(a, ax, -1)
        if m * f <= n:
            blocks = moved[..., : m * f].reshape(*moved.shape[:-1], m, f)
            moved = blocks.mean(axis=-1)
        else:
            pad = np.zeros((*moved.shape[:-1], m * f - n))
            blocks = np.concatenate([moved, pad], axis=-1).reshape(*moved.shape[:-1], m, f)
            counts = np.full(m, float(f))
            counts[-1] = n - (m - 1) * f
            moved = blocks.sum(axis=-1) / counts
        a = np.moveaxis(moved, -1, ax)
    return np.ascontiguousarray(a, dtype=np.float32)


def cubic_kernel(t: np.ndarray, *, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (support ``[-2, 2]``); ``a = -0.5`` as in PIL and torch antialias."""
    s = np.abs(t)
    near = ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0
    far = ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a
    return np.where(s <= 1.0, near, np.where(s < 2.0, far, 0.0))


def bicubic_matrix(
    n: int, factor: int, *, remainder: Remainder = "crop", a: float = -0.5
) -> np.ndarray:
    """``(n_out, n)`` weights of antialiased cubic downsampling by ``factor`` along one axis.

    The cubic kernel is stretched by the factor (support ``2 f`` input voxels each side) and each row
    is renormalised over the taps inside the axis, as PIL and ``torch`` (``antialias=True``) do.
    """
    m = output_length(n, factor, remainder=remainder)
    centres = (np.arange(m) + 0.5) * factor - 0.5
    d = (np.arange(n)[None, :] - centres[:, None]) / factor
    w = cubic_kernel(d, a=a)
    return w / w.sum(axis=1, keepdims=True)


def downsample_bicubic(
    x: np.ndarray,
    *,
    spatial_dims: int,
    factor: int | Sequence[int],
    remainder: Remainder = "crop",
    a: float = -0.5,
) -> np.ndarray:
    """Antialiased (bi/tri)cubic downsampling, separable along each spatial axis.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        factor: Integer factor per spatial axis (or one for all).
        remainder: ``"crop"`` or ``"pad"`` (module docstring).
        a: Cubic kernel parameter.

    Returns:
        Float32 array.

    Raises:
        ConfigError: For bad factors or arrays.

    Shape:
        x: ``(..., N_1, ..., N_n)`` -> ``(..., N_1 // f_1, ...)`` (``ceil`` with ``pad``).
    """
    arr = check_spatial(x, spatial_dims=spatial_dims).astype(np.float64)
    for ax, f in zip(spatial_axes(arr.ndim, spatial_dims), int_factors(factor, spatial_dims)):
        if f > 1:
            arr = apply_along(arr, ax, bicubic_matrix(arr.shape[ax], f, remainder=remainder, a=a))
    return np.ascontiguousarray(arr, dtype=np.float32)


def decimate(
    x: np.ndarray,
    *,
    spatial_dims: int,
    factor: int | Sequence[int],
    offset: int | Sequence[int] = 0,
) -> np.ndarray:
    """Nearest decimation: keep every ``f``-th voxel starting at ``offset`` (no anti-aliasing).

    This is how DISGAN makes its low-resolution inputs. Output voxel ``j`` *is* input voxel
    ``offset + j f``; the Volume helper moves the affine accordingly.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        factor: Integer factor per spatial axis (or one for all).
        offset: First kept voxel per axis, ``0 <= offset < factor``.

    Returns:
        Float32 array.

    Raises:
        ConfigError: For bad factors, offsets or arrays.

    Shape:
        x: ``(..., N_i)`` -> ``(..., ceil((N_i - offset_i) / f_i))``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    f = int_factors(factor, spatial_dims)
    off = decimation_offsets(offset, f)
    index: tuple[Any, ...] = (Ellipsis, *(slice(o, None, fi) for o, fi in zip(off, f)))
    return np.ascontiguousarray(a[index], dtype=np.float32)


def decimation_offsets(offset: int | Sequence[int], factor: Sequence[int]) -> tuple[int, ...]:
    """Validate per-axis decimation offsets (``0 <= offset_i < factor_i``).

    Raises:
        ConfigError: For an offset outside its range.
    """
    n = len(factor)
    off = (
        (int(offset),) * n
        if isinstance(offset, int | np.integer)
        else tuple(int(o) for o in offset)
    )
    if len(off) != n or any(not 0 <= o < fi for o, fi in zip(off, factor)):
        raise ConfigError(
            f"offset {offset!r} must give 0 <= offset < factor {tuple(factor)} per axis"
        )
    return off
