"""Volume-level degradations: the array functions applied to ``Volume.array`` with the geometry kept right.

Every helper treats ``(D, H, W)`` as the spatial axes (``spatial_dims=3``; a 2D image is a volume
with ``D == 1``, give it factor 1 on that axis) and returns a new :class:`~medsr.data.Volume`.
Grid changes keep the outer edge of the first voxel (and, when the shape is divisible, of the whole
field of view) at the same world coordinates; decimation puts each output voxel exactly on the
input voxel it copies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from medsr.conventions import UNIT_HU
from medsr.degrade._common import int_factors, per_axis
from medsr.degrade.ct import CtMode, simulate_low_dose_ct
from medsr.degrade.ct_projector import FbpFilter
from medsr.degrade.kspace import (
    MIN_KSPACE_LINES,
    Window,
    kspace_keep_count,
    kspace_keep_count_zero_edges,
    truncate_kspace,
)
from medsr.degrade.kspace_augment import gaussian_kspace_filter
from medsr.degrade.noise import add_gaussian_noise, add_poisson_gaussian_noise, add_rician_noise
from medsr.degrade.resample import (
    Remainder,
    decimate,
    decimation_offsets,
    downsample_area,
    downsample_bicubic,
    output_length,
)
from medsr.degrade.thickness import Profile, simulate_slice_thickness
from medsr.errors import ConfigError
from medsr.geometry import rescale_affine, spacing_from_affine
from medsr.volume import Volume

#: Fewest voxels an axis may keep when a degradation shrinks it: a single voxel would make the
#: result constant along that axis, one spatial dimension fewer than the input (axes the
#: degradation leaves alone may be shorter, e.g. ``D == 1`` of a 2D image). The same minimum
#: holds for the k-space lines a same-grid truncation keeps (:data:`MIN_KSPACE_LINES`).
MIN_AXIS = 2


def check_kept(
    shape: Sequence[int],
    kept: Sequence[int],
    *,
    what: str,
    least: int = MIN_AXIS,
    unit: str = "voxels",
) -> None:
    """Refuse a degradation that leaves fewer than ``least`` voxels (or k-space lines) on an axis.

    Args:
        shape: Input ``(D, H, W)``.
        kept: What the degradation leaves per axis (voxels, or k-space lines).
        what: The degradation and its parameter, for the message.
        least: Minimum for every axis that shrinks (``kept < shape``).
        unit: What ``kept`` counts, for the message.

    Raises:
        ConfigError: Naming the axis, what is left and the minimum.
    """
    for axis, n, m in zip("DHW", shape, kept, strict=True):
        if m < n and m < least:
            raise ConfigError(
                f"{what} leaves {m} of {n} {unit} on axis {axis} (D, H, W order); at least "
                f"{least} must remain: use a smaller factor"
            )


def on_new_grid(volume: Volume, array: np.ndarray, affine: np.ndarray) -> Volume:
    """``volume`` with a new array and affine; spacing is recomputed from the affine.

    Args:
        volume: The source volume (modality, unit and metadata are kept).
        array: The new ``(C, D, H, W)`` array.
        affine: Its 4x4 voxel-to-world matrix.

    Returns:
        The new volume.
    """
    aff = np.asarray(affine, dtype=np.float64)
    return dataclasses.replace(
        volume,
        array=array,
        affine=aff,
        spacing=spacing_from_affine(aff),  # type: ignore[arg-type]
    )


def truncate_kspace_volume(
    volume: Volume,
    *,
    factor: float | Sequence[float] = 1.0,
    edge_divisor: float | Sequence[float] | None = None,
    keep_shape: bool = False,
    window: Window = "none",
    tukey_alpha: float = 0.5,
) -> Volume:
    """k-space truncation of a volume (magnitude output).

    With ``keep_shape=False`` the result is on the low-resolution grid of ``M`` voxels per axis over
    the same field of view: spacing ``* N / M`` (``* f`` when ``N / f`` is an integer).

    Args:
        volume: Input volume.
        factor: Per ``(D, H, W)`` factor (or one for all); ignored when ``edge_divisor`` is given.
        edge_divisor: Use the "zero ``round(N / e)`` lines per edge" convention instead.
        keep_shape: Zero-filled on the same grid (True) or cropped to the true LR grid (False).
        window: ``none``, ``hamming`` or ``tukey``.
        tukey_alpha: Tukey taper fraction.

    Returns:
        The degraded volume.

    Raises:
        ConfigError: For bad parameters.
    """
    keep = None
    if edge_divisor is not None:
        divs = per_axis(edge_divisor, 3, name="edge_divisor")
        keep = [kspace_keep_count_zero_edges(n, edge_divisor=e) for n, e in zip(volume.shape, divs)]
        lines, what = keep, f"k-space truncation with edge_divisor {edge_divisor}"
    else:
        facs = per_axis(factor, 3, name="factor")
        lines = [kspace_keep_count(n, factor=f) for n, f in zip(volume.shape, facs)]
        what = f"k-space truncation by {factor}"
    if keep_shape:  # same grid: the kept band needs two lines
        check_kept(volume.shape, lines, what=what, least=MIN_KSPACE_LINES, unit="k-space lines")
    else:  # a new grid has one voxel per kept line
        check_kept(volume.shape, lines, what=what)
    arr = truncate_kspace(
        volume.array,
        spatial_dims=3,
        factor=factor,
        keep=keep,
        keep_shape=keep_shape,
        window=window,
        tukey_alpha=tukey_alpha,
    )
    return volume.with_array(arr) if keep_shape else volume.regrid(arr)


def gaussian_kspace_filter_volume(volume: Volume, *, sigma: float | Sequence[float]) -> Volume:
    """Gaussian k-space filter on the same grid (magnitude output).

    Args:
        volume: Input volume.
        sigma: Per ``(D, H, W)`` (or one for all), a fraction of the k-space extent; ``inf`` skips.

    Returns:
        The filtered volume, same geometry.
    """
    return volume.with_array(gaussian_kspace_filter(volume.array, spatial_dims=3, sigma=sigma))


def downsample_volume(
    volume: Volume,
    *,
    factor: int | Sequence[int],
    method: Literal["area", "bicubic"] = "area",
    remainder: Remainder = "crop",
) -> Volume:
    """Anti-aliased downsampling by integer factors; spacing ``* f``, first voxel's outer edge kept.

    Args:
        volume: Input volume.
        factor: Integer factor per ``(D, H, W)`` (or one for all).
        method: ``"area"`` (block mean) or ``"bicubic"`` (antialiased cubic).
        remainder: ``"crop"`` or ``"pad"`` for axes not divisible by their factor.

    Returns:
        The downsampled volume with the affine of :func:`~medsr.geometry.rescale_affine`.

    Raises:
        ConfigError: For an unknown method or bad factors.
    """
    f = int_factors(factor, 3)
    kept = [output_length(n, fi, remainder=remainder) for n, fi in zip(volume.shape, f)]
    check_kept(volume.shape, kept, what=f"downsampling by {factor}")
    if method == "area":
        arr = downsample_area(volume.array, spatial_dims=3, factor=f, remainder=remainder)
    elif method == "bicubic":
        arr = downsample_bicubic(volume.array, spatial_dims=3, factor=f, remainder=remainder)
    else:
        raise ConfigError(f"unknown downsampling method {method!r}; use 'area' or 'bicubic'")
    return on_new_grid(volume, arr, rescale_affine(volume.affine, [1.0 / v for v in f]))


def decimate_volume(
    volume: Volume, *, factor: int | Sequence[int], offset: int | Sequence[int] = 0
) -> Volume:
    """Nearest decimation; output voxel ``j`` sits exactly where input voxel ``offset + j f`` was.

    Args:
        volume: Input volume.
        factor: Integer factor per ``(D, H, W)`` (or one for all).
        offset: First kept voxel per axis (or one for all), ``0 <= offset < factor``.

    Returns:
        The decimated volume; spacing ``* f``.

    Raises:
        ConfigError: For bad factors or offsets.
    """
    f = int_factors(factor, 3)
    off = decimation_offsets(offset, f)
    kept = [len(range(o, n, fi)) for n, fi, o in zip(volume.shape, f, off)]
    check_kept(volume.shape, kept, what=f"decimation by {factor}")
    arr = decimate(volume.array, spatial_dims=3, factor=f, offset=off)
    step = np.eye(4)
    step[:3, :3] = np.diag(np.asarray(f, dtype=np.float64))
    step[:3, 3] = off
    return on_new_grid(volume, arr, volume.affine @ step)


def slice_thickness_volume(
    volume: Volume,
    *,
    thickness_mm: float,
    spacing_mm: float | None = None,
    axis: int = 0,
    profile: Profile = "gaussian",
    remainder: Remainder = "crop",
) -> Volume:
    """Thick-slice acquisition along ``axis`` (0 = D): profile of width ``thickness_mm``, new spacing.

    Args:
        volume: Input volume.
        thickness_mm: Slice profile FWHM (gaussian) or width (boxcar) in mm.
        spacing_mm: New slice spacing; an integer multiple of the current one (default: unchanged).
        axis: 0, 1 or 2 for D, H, W.
        profile: ``gaussian`` or ``boxcar``.
        remainder: See :mod:`medsr.degrade.resample`.

    Returns:
        The degraded volume; spacing along ``axis`` is ``spacing_mm``.

    Raises:
        ConfigError: If ``spacing_mm`` is not an integer multiple of the current spacing.
    """
    if int(axis) != axis or not 0 <= axis < 3:
        raise ConfigError(f"axis must be 0, 1 or 2 (D, H, W), got {axis!r}")
    old = volume.spacing[int(axis)]
    ratio = 1.0 if spacing_mm is None else float(spacing_mm) / old
    factor = round(ratio)
    if factor < 1 or not math.isclose(ratio, factor, rel_tol=1e-3):
        raise ConfigError(
            f"spacing_mm {spacing_mm} must be an integer multiple of the current spacing {old:g} mm"
        )
    kept = list(volume.shape)
    kept[int(axis)] = output_length(kept[int(axis)], factor, remainder=remainder)
    check_kept(volume.shape, kept, what=f"slice spacing {spacing_mm} mm")
    arr = simulate_slice_thickness(
        volume.array,
        spatial_dims=3,
        axis=int(axis),
        thickness=float(thickness_mm) / old,
        factor=factor,
        profile=profile,
        remainder=remainder,
    )
    scale = [1.0, 1.0, 1.0]
    scale[int(axis)] = 1.0 / factor
    return on_new_grid(volume, arr, rescale_affine(volume.affine, scale))


def add_noise_volume(
    volume: Volume,
    *,
    rng: np.random.Generator,
    model: Literal["gaussian", "rician", "poisson-gaussian"],
    sigma: float = 0.0,
    gain: float = 0.0,
) -> Volume:
    """Image-domain noise on the same grid (see :mod:`medsr.degrade.noise`).

    Args:
        volume: Input volume.
        rng: Generator for the noise.
        model: ``"gaussian"``, ``"rician"`` or ``"poisson-gaussian"``.
        sigma: Gaussian standard deviation in intensity units.
        gain: Intensity per count (``poisson-gaussian`` only).

    Returns:
        The noisy volume, same geometry.

    Raises:
        ConfigError: For an unknown model or bad parameters.
    """
    if model == "gaussian":
        arr = add_gaussian_noise(volume.array, rng=rng, sigma=sigma)
    elif model == "rician":
        arr = add_rician_noise(volume.array, rng=rng, sigma=sigma)
    elif model == "poisson-gaussian":
        arr = add_poisson_gaussian_noise(volume.array, rng=rng, gain=gain, sigma=sigma)
    else:
        raise ConfigError(
            f"unknown noise model {model!r}; use gaussian, rician or poisson-gaussian"
        )
    return volume.with_array(arr)


def lowdose_ct_volume(
    volume: Volume,
    *,
    rng: np.random.Generator,
    dose: float = 0.25,
    i0: float = 1e5,
    sigma_e: float = 0.0,
    views: int = 360,
    detectors: int | None = None,
    filter: FbpFilter = "ramp",
    mode: CtMode = "inject",
    min_count: float = 1.0,
) -> Volume:
    """Low-dose CT simulation slice by slice in the ``(H, W)`` plane (see :mod:`medsr.degrade.ct`).

    Args:
        volume: Full-dose CT volume in HU with square in-plane pixels.
        rng: Generator for the photon and electronic noise.
        dose: Dose fraction.
        i0: Photons per ray at full dose (``inf``: noise-free).
        sigma_e: Electronic noise standard deviation in counts.
        views: Projection angles over 180 degrees.
        detectors: Detector bins (default covers the diagonal).
        filter: FBP filter.
        mode: ``"inject"`` or ``"reconstruct"``.
        min_count: Clamp for the counts before the log.

    Returns:
        The simulated low-dose volume, same geometry, in HU.

    Raises:
        ConfigError: If the volume is not in HU or its in-plane pixels are not square.
    """
    if volume.unit != UNIT_HU:
        raise ConfigError(
            f"low-dose CT simulation needs a volume in HU, got unit {volume.unit!r} "
            "(read the file with modality='CT')"
        )
    sh, sw = volume.spacing[1], volume.spacing[2]
    if not math.isclose(sh, sw, rel_tol=1e-3):
        raise ConfigError(
            f"in-plane pixels must be square for the CT projector, got {sh:g} x {sw:g} mm"
        )
    arr = simulate_low_dose_ct(
        volume.array,
        rng=rng,
        pixel_size=0.5 * (sh + sw),
        dose=dose,
        i0=i0,
        sigma_e=sigma_e,
        views=views,
        detectors=detectors,
        filter=filter,
        mode=mode,
        min_count=min_count,
    )
    return volume.with_array(arr)
