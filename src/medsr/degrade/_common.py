"""Argument checks shared by the degradations (spatial axes, per-axis values, generators)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from medsr.errors import ConfigError


def check_spatial(x: Any, *, spatial_dims: int) -> np.ndarray:
    """Validate an image array whose last ``spatial_dims`` axes are spatial.

    Args:
        x: Real array-like.
        spatial_dims: 2 or 3.

    Returns:
        ``x`` as a NumPy array (not copied when already an array).

    Raises:
        ConfigError: For a bad ``spatial_dims``, too few axes, a zero-size axis or complex data.
    """
    if spatial_dims not in (2, 3):
        raise ConfigError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    a = np.asarray(x)
    if a.ndim < spatial_dims:
        raise ConfigError(
            f"array of shape {a.shape} has fewer than spatial_dims={spatial_dims} axes"
        )
    return check_real(a)


def check_real(x: Any) -> np.ndarray:
    """Return ``x`` as a real, non-empty NumPy array.

    Raises:
        ConfigError: For complex, non-numeric or empty input.
    """
    a = np.asarray(x)
    if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ConfigError(f"expected a real-valued array, got dtype {a.dtype}")
    if a.size == 0:
        raise ConfigError(f"array of shape {a.shape} is empty")
    return a


def per_axis(value: float | Sequence[float], n: int, *, name: str) -> tuple[float, ...]:
    """Expand a scalar or a length-``n`` sequence to ``n`` floats.

    Raises:
        ConfigError: If a sequence has the wrong length or holds NaN.
    """
    if isinstance(value, int | float | np.integer | np.floating):
        vals: tuple[float, ...] = (float(value),) * n
    else:
        vals = tuple(float(v) for v in value)
    if len(vals) != n:
        raise ConfigError(f"{name} needs 1 or {n} values (one per spatial axis), got {value!r}")
    if any(math.isnan(v) for v in vals):
        raise ConfigError(f"{name} must not be NaN, got {value!r}")
    return vals


def int_factors(value: int | Sequence[int], n: int, *, name: str = "factor") -> tuple[int, ...]:
    """Expand an integer factor (scalar or per axis) to ``n`` positive ints.

    Raises:
        ConfigError: For a non-integer or non-positive entry.
    """
    vals = per_axis(value, n, name=name)
    if any(v != int(v) or v < 1 for v in vals):
        raise ConfigError(f"{name} entries must be positive integers, got {value!r}")
    return tuple(int(v) for v in vals)


def check_rng(rng: Any) -> np.random.Generator:
    """Make sure ``rng`` is a ``numpy.random.Generator`` (library code never uses the global RNG).

    Raises:
        ConfigError: For anything else (e.g. an int seed or ``None``).
    """
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def spatial_axes(ndim: int, spatial_dims: int) -> tuple[int, ...]:
    """Absolute indices of the last ``spatial_dims`` axes of an ``ndim``-D array."""
    return tuple(range(ndim - spatial_dims, ndim))


def apply_along(x: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(n_out, n_in)`` matrix along one axis of ``x`` (a separable linear resampler)."""
    moved = np.moveaxis(x, axis, -1)
    out = moved @ matrix.T
    return np.moveaxis(out, -1, axis)
