"""Conventions shared by every part of medsr: axis order, units, literal aliases.

* 2D batch ``(B, C, H, W)``; 3D batch ``(B, C, D, H, W)``.
* One volume: ``Volume.array`` is ``(C, D, H, W)``; ``Volume.spacing`` is ``(sd, sh, sw)`` in mm in the
  same order; ``Volume.affine`` maps the voxel index ``(d, h, w, 1)`` to world (RAS+, mm).
* Voxel centres sit at integer indices; the field of view of an axis with ``n`` voxels spans indices
  ``[-0.5, n - 0.5]``.
* Scale is an int or a per-axis tuple; SR output spacing = input spacing / scale.
* Images are named ``x_lq`` / ``x_hq`` / ``pred``; ``lr`` always means learning rate.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

Modality: TypeAlias = Literal["MR", "CT", "XR"]
MODALITIES: tuple[str, ...] = ("MR", "CT", "XR")

#: Unit strings used in ``Volume.unit``.
UNIT_HU = "HU"
UNIT_ARBITRARY = "a.u."
UNIT_ATTENUATION = "1/mm"

SpatialDims: TypeAlias = Literal[2, 3]
Scale: TypeAlias = int | tuple[int, ...]

#: Linear attenuation coefficient of water used for HU <-> mu conversions, in 1/mm
#: (about 70 keV effective energy; 0.0192 /mm is the value used by the AAPM low-dose CT challenge
#: data and by the DFGAN code base).
MU_WATER_PER_MM = 0.0192


def normalize_scale(scale: Scale | tuple[float, ...], ndim: int) -> tuple[int, ...]:
    """Expand an int or per-axis scale to a tuple of ``ndim`` positive ints.

    Args:
        scale: One int for every axis, or one per axis.
        ndim: Number of spatial axes.

    Returns:
        Tuple of ``ndim`` ints.

    Raises:
        ValueError: If the scale has the wrong length or a non-positive / non-integer entry.
    """
    if isinstance(scale, int | float):
        values: tuple[float, ...] = (scale,) * ndim
    else:
        values = tuple(scale)
    if len(values) != ndim:
        raise ValueError(f"scale {scale!r} has {len(values)} entries; expected 1 or {ndim}")
    out = []
    for v in values:
        if int(v) != v or v < 1:
            raise ValueError(f"scale entries must be positive integers, got {scale!r}")
        out.append(int(v))
    return tuple(out)
