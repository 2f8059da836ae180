"""Nearest, linear and cubic interpolation by integer per-axis factors, 2D and 3D.

Geometry follows :mod:`medsr.geometry`: voxel centres sit at integer indices and the
field of view is kept, so new index ``j`` samples old position ``x = (j + 0.5) / s - 0.5``
(``align_corners=False`` semantics). Taps outside the image repeat the edge voxel (replicate /
'nearest' padding), so near the edges linear interpolation equals torch's
``interpolate(..., align_corners=False)``.

Cubic is separable cubic convolution (Keys 1981) with ``a = -0.5``: it interpolates the samples,
reproduces polynomials up to degree 2 exactly away from the edges, and needs no prefilter (a
cubic B-spline would, and its mirror boundary is harder to reason about).
"""

from __future__ import annotations

import numpy as np

from medsr.conventions import normalize_scale


def source_positions(n: int, s: int) -> np.ndarray:
    """Old-grid position of each of the ``n * s`` new voxel centres: ``(j + 0.5) / s - 0.5``."""
    j = np.arange(n * s, dtype=np.float64)
    return (j + 0.5) / s - 0.5


def keys_weights(t: np.ndarray, *, a: float = -0.5) -> np.ndarray:
    """Keys cubic-convolution weights for taps at offsets -1, 0, 1, 2 from ``floor(x)``.

    Args:
        t: Fractional parts ``x - floor(x)`` in ``[0, 1)``.
        a: Keys' free parameter (-0.5 is the third-order accurate choice; torch uses -0.75).

    Returns:
        ``(4, len(t))`` weights; each column sums to 1.
    """

    def near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
        return ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0

    def far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
        return ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a

    return np.stack([far(1.0 + t), near(t), near(1.0 - t), far(2.0 - t)])


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


def resample_axis(
    x: np.ndarray, *, axis: int, scale: int, kind: str, a: float = -0.5
) -> np.ndarray:
    """Refine one axis by an integer factor.

    Args:
        x: Input array (float).
        axis: Axis to refine.
        scale: Integer factor >= 1.
        kind: ``"nearest"``, ``"linear"`` or ``"cubic"``.
        a: Keys parameter for ``"cubic"``.

    Returns:
        The array with ``x.shape[axis] * scale`` samples along ``axis``.

    Raises:
        ValueError: On an unknown ``kind`` or a bad factor.
    """
    if scale < 1 or int(scale) != scale:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if scale == 1:
        return x
    n = x.shape[axis]
    if kind == "nearest":
        return np.repeat(x, scale, axis=axis)
    pos = source_positions(n, scale)
    base = np.floor(pos).astype(np.int64)
    t = pos - base
    offsets: tuple[int, ...]
    if kind == "linear":
        offsets, weights = (0, 1), np.stack([1.0 - t, t])
    elif kind == "cubic":
        offsets, weights = (-1, 0, 1, 2), keys_weights(t, a=a)
    else:
        raise ValueError(f"kind must be 'nearest', 'linear' or 'cubic', got {kind!r}")
    out = None
    for off, w in zip(offsets, weights):
        taps = np.take(x, np.clip(base + off, 0, n - 1), axis=axis)
        term = taps * _along(w.astype(x.dtype), axis, x.ndim)
        out = term if out is None else out + term
    assert out is not None
    return out


def interpolate(
    x: np.ndarray, *, scale: int | tuple[int, ...], kind: str, a: float = -0.5
) -> np.ndarray:
    """Refine every axis of a 2D or 3D array by its integer factor (separably).

    Args:
        x: ``(H, W)`` or ``(D, H, W)`` array.
        scale: One factor for all axes or one per axis.
        kind: ``"nearest"``, ``"linear"`` or ``"cubic"``.
        a: Keys parameter for ``"cubic"``.

    Returns:
        Float array of shape ``x.shape * scale`` (float32 stays float32, other types -> float64).

    Raises:
        ValueError: On a bad dimension, scale or kind.

    Shape:
        x: ``(*S)``; output: ``(*(S_i * s_i))``.
    """
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        raise ValueError(f"interpolate expects a 2D or 3D array, got shape {arr.shape}")
    factors = normalize_scale(scale, arr.ndim)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    out = arr.astype(dtype, copy=False)
    for axis, s in enumerate(factors):
        out = resample_axis(out, axis=axis, scale=s, kind=kind, a=a)
    return out


def nearest(x: np.ndarray, *, scale: int | tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour upsampling; equals ``np.repeat`` along every axis."""
    return interpolate(x, scale=scale, kind="nearest")


def linear(x: np.ndarray, *, scale: int | tuple[int, ...]) -> np.ndarray:
    """Separable (bi/tri)linear interpolation, edges replicated."""
    return interpolate(x, scale=scale, kind="linear")


def cubic(x: np.ndarray, *, scale: int | tuple[int, ...]) -> np.ndarray:
    """Separable Keys cubic convolution with ``a = -0.5``, edges replicated."""
    return interpolate(x, scale=scale, kind="cubic")
