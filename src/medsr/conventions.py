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

import numbers
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

Modality: TypeAlias = Literal["MR", "CT", "XR"]
MODALITIES: tuple[str, ...] = ("MR", "CT", "XR")

#: Unit strings used in ``Volume.unit``.
UNIT_HU = "HU"
UNIT_ARBITRARY = "a.u."

Scale: TypeAlias = int | tuple[int, ...]

#: Linear attenuation coefficient of water used for HU <-> mu conversions, in 1/mm
#: (about 70 keV effective energy; 0.0192 /mm is the value used by the AAPM low-dose CT challenge
#: data and by the DFGAN code base).
MU_WATER_PER_MM = 0.0192


def normalize_scale(
    value: float | Sequence[float], ndim: int, *, name: str = "scale", minimum: Literal[0, 1] = 1
) -> tuple[int, ...]:
    """Expand an int or per-axis value to a tuple of ``ndim`` ints: the one parser of scales.

    Also parses the other per-axis integer arguments (window, halo, size multiples: ``name`` says
    which in messages, ``minimum=0`` admits zero). Integral floats and NumPy integers count as
    ints; bools do not.

    Args:
        value: One int for every axis, or one per axis.
        ndim: Number of spatial axes.
        name: Argument name used in error messages.
        minimum: Smallest allowed entry, 1 (positive) or 0 (non-negative).

    Returns:
        Tuple of ``ndim`` ints.

    Raises:
        ValueError: If ``value`` is a bool, has the wrong length, or holds an entry that is not
            an integer or is below ``minimum``.
    """
    kind = "positive" if minimum == 1 else "non-negative"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or a tuple of ints, got {value!r}")
    values: tuple[Any, ...]
    if isinstance(value, int | float | numbers.Real):  # numbers.Real: NumPy scalars too
        values = (value,) * ndim
    else:
        values = tuple(value)
    if len(values) != ndim:
        raise ValueError(
            f"{name} {value!r} has {len(values)} entries; expected 1 or {ndim} "
            f"({kind} integers, one per spatial axis)"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or v % 1 != 0 or v < minimum:
            raise ValueError(f"{name} entries must be {kind} integers, got {value!r}")
    return tuple(int(v) for v in values)
