"""k-space augmentations used with mDCSRN-WGAN-GP: random truncation width, Gaussian k-space filter."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsr.degrade._common import check_rng, check_spatial, per_axis, spatial_axes
from medsr.degrade.kspace import Window, truncate_kspace
from medsr.errors import ConfigError


def draw_uniform(
    rng: np.random.Generator,
    *,
    low: Sequence[float],
    high: Sequence[float],
    shared: bool,
) -> tuple[float, ...]:
    """Draw one value per axis uniformly in ``[low_i, high_i]``.

    Always consumes ``len(low)`` uniforms (one is used for every axis when ``shared``), so the
    generator advances the same way whatever the ranges. An axis with ``low_i == high_i`` (including
    ``inf``) gets exactly ``low_i``.

    Args:
        rng: Generator to draw from.
        low: Lower bounds per axis.
        high: Upper bounds per axis.
        shared: Use the same uniform for every axis (the value moves together across axes).

    Returns:
        One float per axis.

    Raises:
        ConfigError: If a lower bound exceeds its upper bound.
    """
    check_rng(rng)
    if any(lo > hi for lo, hi in zip(low, high)):
        raise ConfigError(f"range lower bounds {tuple(low)} exceed upper bounds {tuple(high)}")
    u = rng.random(len(low))
    if shared:
        u[:] = u[0]
    return tuple(lo if lo == hi else float(lo + ui * (hi - lo)) for lo, hi, ui in zip(low, high, u))


def gaussian_kspace_filter(
    x: np.ndarray,
    *,
    spatial_dims: int,
    sigma: float | Sequence[float],
    magnitude: bool = True,
) -> np.ndarray:
    """Multiply k-space by a Gaussian ``exp(-(k / N)^2 / (2 sigma^2))`` on each spatial axis.

    ``sigma`` is a fraction of the full k-space extent ``N`` (the extent spans ``k / N`` in
    ``[-1/2, 1/2)``). It equals a circular Gaussian blur of ``1 / (2 pi sigma)`` voxels standard
    deviation, independent of ``N``; ``sigma = inf`` leaves the axis untouched.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        sigma: Per spatial axis (or one for all), ``> 0``.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For a non-positive sigma or a bad array.

    Shape:
        x: ``(..., *spatial)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    sig = per_axis(sigma, spatial_dims, name="sigma")
    if any(s <= 0 for s in sig):
        raise ConfigError(f"sigma must be > 0 (inf for no filtering), got {sigma!r}")
    axes = spatial_axes(a.ndim, spatial_dims)
    active = [(ax, s) for ax, s in zip(axes, sig) if not math.isinf(s)]
    if not active:
        out = np.abs(a) if magnitude else a
        return np.ascontiguousarray(out, dtype=np.float32)
    spec = np.fft.fftn(a.astype(np.float64), axes=[ax for ax, _ in active])
    for ax, s in active:
        n = a.shape[ax]
        k = np.fft.fftfreq(n)  # k / N
        shape = [1] * a.ndim
        shape[ax] = n
        spec *= np.exp(-0.5 * (k / s) ** 2).reshape(shape)
    img = np.fft.ifftn(spec, axes=[ax for ax, _ in active])
    out = np.abs(img) if magnitude else np.real(img)
    return np.ascontiguousarray(out, dtype=np.float32)


def random_kspace_truncation(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    factor_low: float | Sequence[float],
    factor_high: float | Sequence[float],
    shared: bool = True,
    keep_shape: bool = True,
    window: Window = "none",
    tukey_alpha: float = 0.5,
    magnitude: bool = True,
) -> np.ndarray:
    """k-space truncation with a random width: ``f_i`` drawn uniformly in ``[low_i, high_i]``.

    An axis with ``low == high == 1`` is not truncated. With ``keep_shape=False`` the output shape
    depends on the draw.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for the draw.
        spatial_dims: 2 or 3.
        factor_low: Lower factor bound per spatial axis (or one for all), ``>= 1``.
        factor_high: Upper factor bound per spatial axis (or one for all).
        shared: One draw for all axes (the same relative position in each range).
        keep_shape: See :func:`~medsr.degrade.kspace.truncate_kspace`.
        window: See :func:`~medsr.degrade.kspace.truncate_kspace`.
        tukey_alpha: See :func:`~medsr.degrade.kspace.truncate_kspace`.
        magnitude: See :func:`~medsr.degrade.kspace.truncate_kspace`.

    Returns:
        Float32 array.

    Raises:
        ConfigError: For bad ranges or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    low = per_axis(factor_low, spatial_dims, name="factor_low")
    high = per_axis(factor_high, spatial_dims, name="factor_high")
    if min(low) < 1.0:
        raise ConfigError(f"factor_low must be >= 1, got {factor_low!r}")
    factors = draw_uniform(rng, low=low, high=high, shared=shared)
    return truncate_kspace(
        x,
        spatial_dims=spatial_dims,
        factor=factors,
        keep_shape=keep_shape,
        window=window,
        tukey_alpha=tukey_alpha,
        magnitude=magnitude,
    )


def random_gaussian_kspace_filter(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    sigma_low: float | Sequence[float],
    sigma_high: float | Sequence[float],
    shared: bool = True,
    magnitude: bool = True,
) -> np.ndarray:
    """:func:`gaussian_kspace_filter` with ``sigma_i`` drawn uniformly in ``[low_i, high_i]``.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for the draw.
        spatial_dims: 2 or 3.
        sigma_low: Lower bound per spatial axis (or one for all), ``> 0``.
        sigma_high: Upper bound per spatial axis (or one for all); ``inf`` with ``inf`` low skips.
        shared: One draw for all axes.
        magnitude: See :func:`gaussian_kspace_filter`.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad ranges or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    low = per_axis(sigma_low, spatial_dims, name="sigma_low")
    high = per_axis(sigma_high, spatial_dims, name="sigma_high")
    sig = draw_uniform(rng, low=low, high=high, shared=shared)
    return gaussian_kspace_filter(x, spatial_dims=spatial_dims, sigma=sig, magnitude=magnitude)
