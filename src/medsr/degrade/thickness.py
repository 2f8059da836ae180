"""Slice-thickness simulation: a through-plane slice profile followed by decimation to a new spacing.

Each input voxel is treated as constant over its extent, so the weight of input voxel ``i`` in output
slice ``j`` is the integral of the slice profile over ``[i - 1/2, i + 1/2]``, the profile being centred
at ``c_j = (j + 1/2) f - 1/2`` (the field-of-view preserving slice centres of
:mod:`medsr.degrade.resample`; for odd ``f`` they are input slice positions, for even ``f`` they lie
midway between two). Weights that fall outside the volume are dropped and each row renormalised.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
from scipy.special import ndtr

from medsr.degrade._common import apply_along, check_spatial
from medsr.degrade.resample import Remainder, output_length
from medsr.errors import ConfigError

Profile: TypeAlias = Literal["gaussian", "boxcar"]
PROFILES: tuple[str, ...] = ("gaussian", "boxcar")

#: FWHM of a Gaussian divided by its standard deviation, ``2 sqrt(2 ln 2)``.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

_TINY = 1e-9  # a zero-width profile is a delta; keep the formulas finite


def slice_profile_matrix(
    n: int,
    *,
    thickness: float,
    factor: int = 1,
    profile: Profile = "gaussian",
    remainder: Remainder = "crop",
) -> np.ndarray:
    """``(n_out, n)`` weights that integrate a slice profile over each input voxel.

    Args:
        n: Input slices.
        thickness: FWHM (``gaussian``) or full width (``boxcar``) in input voxels, ``>= 0``.
        factor: Integer decimation factor (new spacing / old spacing).
        profile: ``"gaussian"`` or ``"boxcar"``.
        remainder: See :mod:`medsr.degrade.resample`.

    Returns:
        Row-normalised float64 weights.

    Raises:
        ConfigError: For a negative thickness, bad factor or unknown profile.
    """
    if not thickness >= 0:
        raise ConfigError(f"slice thickness must be >= 0 voxels, got {thickness!r}")
    if int(factor) != factor or factor < 1:
        raise ConfigError(f"factor must be a positive integer, got {factor!r}")
    m = output_length(n, int(factor), remainder=remainder)
    centres = (np.arange(m) + 0.5) * factor - 0.5
    lo = np.arange(n)[None, :] - 0.5 - centres[:, None]
    hi = lo + 1.0
    if profile == "gaussian":
        sigma = max(thickness / FWHM_PER_SIGMA, _TINY)
        w = ndtr(hi / sigma) - ndtr(lo / sigma)
    elif profile == "boxcar":
        half = max(thickness, _TINY) / 2.0
        w = np.clip(np.minimum(hi, half) - np.maximum(lo, -half), 0.0, None)
    else:
        raise ConfigError(f"unknown slice profile {profile!r}; use one of {PROFILES}")
    return w / w.sum(axis=1, keepdims=True)


def simulate_slice_thickness(
    x: np.ndarray,
    *,
    spatial_dims: int,
    axis: int,
    thickness: float,
    factor: int = 1,
    profile: Profile = "gaussian",
    remainder: Remainder = "crop",
) -> np.ndarray:
    """Thick slices along one spatial axis: profile integration, then sampling every ``factor`` voxels.

    With ``factor == thickness`` and a boxcar profile this is the area downsampler along that axis;
    ``thickness = 0`` with ``factor = 1`` is the identity.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        axis: Spatial axis index, ``0 .. spatial_dims - 1`` (0 is the slice axis D of a volume).
        thickness: Profile FWHM (gaussian) or width (boxcar) in input voxels.
        factor: New spacing / old spacing (integer).
        profile: ``"gaussian"`` or ``"boxcar"``.
        remainder: See :mod:`medsr.degrade.resample`.

    Returns:
        Float32 array; the chosen axis has ``N // factor`` (``crop``) or ``ceil(N / factor)`` samples.

    Raises:
        ConfigError: For a bad axis, thickness, factor, profile or array.

    Shape:
        x: ``(..., *spatial)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    if int(axis) != axis or not 0 <= axis < spatial_dims:
        raise ConfigError(
            f"axis must be a spatial axis index in [0, {spatial_dims - 1}], got {axis!r}"
        )
    ax = a.ndim - spatial_dims + int(axis)
    w = slice_profile_matrix(
        a.shape[ax], thickness=thickness, factor=factor, profile=profile, remainder=remainder
    )
    out = apply_along(a.astype(np.float64), ax, w)
    return np.ascontiguousarray(out, dtype=np.float32)
