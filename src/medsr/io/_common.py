"""Helpers shared by the readers: input checks, size limits and the canonical axis layout.

Layout used by every 3D reader: data indexed ``(i, j, k)`` with an affine for that order (NIfTI
voxel order, or DICOM ``(column, row, slice)``) is reoriented to the closest canonical RAS+ layout
and then transposed so that ``D = k`` (towards S), ``H = j`` (towards A), ``W = i`` (towards R).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medsr.errors import InputError
from medsr.io.memory import current_plan

#: Largest number of voxels a reader accepts (2**31, about 8 GiB as float32).
MAX_VOXELS = 2**31


def check_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking it is a non-empty regular file.

    Raises:
        InputError: If it is missing, not a file or empty.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if not p.is_file():
        raise InputError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise InputError(p, "file is empty (0 bytes)")
    return p


def available_memory() -> int:
    """Bytes of memory currently available (physical RAM when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**36


def check_size(path: Path, shape: tuple[int, ...], itemsize: float = 4) -> None:
    """Refuse shapes with zero-size axes or more voxels than can be held, before allocating.

    The memory needed is the larger of the read's own peak (``itemsize`` per voxel) and the peak
    of the work the caller declared with :func:`medsr.io.memory.memory_plan` (the whole
    pipeline after the read); it is compared with the memory available now.

    Args:
        path: The file, for the message.
        shape: Shape declared by the file's header, in the file's own axis order (the messages
            say so; medsr's ``(D, H, W)`` order comes only after the reorientation).
        itemsize: Peak bytes per voxel while reading: the float32 array built (4) plus what the
            reader holds beside it at its peak (the raw data it converts, say).

    Raises:
        InputError: For a zero-size axis or a size above :data:`MAX_VOXELS` or available memory.
    """

    if any(int(n) <= 0 for n in shape):
        raise InputError(path, f"image has a zero-size axis: shape {tuple(shape)} (file order)")
    n = 1
    for s in shape:
        n *= int(s)
    if n > MAX_VOXELS:
        raise InputError(
            path,
            f"header claims {n} voxels {tuple(shape)} (file order), above the {MAX_VOXELS} limit",
        )
    need, what = n * float(itemsize), "to read it"
    plan = current_plan()
    if plan is not None and plan.need(shape) > need:
        need, what = plan.need(shape), f"for {plan.what}"
    free = available_memory()
    if need > free:
        raise InputError(
            path,
            f"image {tuple(shape)} (file order) needs about {need / 2**30:.1f} GiB of memory {what}, "
            f"{free / 2**30:.1f} GiB are available; crop or downsample it, or use a machine "
            "with more memory",
        )


def check_finite(array: np.ndarray, path: Path, *, allow_nonfinite: bool) -> None:
    """Raise unless the array is finite (or ``allow_nonfinite`` is set).

    Raises:
        InputError: With the number of NaN/Inf voxels and how to fix the file.
    """
    if allow_nonfinite or array.dtype.kind not in "fc":
        return
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise InputError(
            path,
            f"{bad} NaN/Inf voxels of {finite.size}; replace them with finite values (e.g. 0) "
            "and save the file again",
        )


def canonical_dhw(
    data: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorient ``(i, j, k[, c])`` data to closest canonical RAS+ and transpose to ``(c, D, H, W)``.

    Args:
        data: Array indexed ``(i, j, k)`` or ``(i, j, k, c)``.
        affine: 4x4 voxel-to-world (RAS+ mm) matrix for index order ``(i, j, k)``.

    Returns:
        ``(array, affine_dhw, ornt)``: the ``(C, D, H, W)`` array, its affine for index order
        ``(d, h, w)``, and the nibabel orientation ``ornt`` (``(3, 2)``) that took the input to
        canonical (``apply_orientation(data, ornt)``).
    """
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

    ornt = io_orientation(affine)
    can = apply_orientation(data, ornt)
    aff_can = np.asarray(affine, dtype=np.float64) @ inv_ornt_aff(ornt, data.shape[:3])
    if can.ndim == 3:
        can = can[..., None]
    array = np.ascontiguousarray(np.transpose(can, (3, 2, 1, 0)))
    return array, aff_can[:, [2, 1, 0, 3]], ornt


def dhw_to_ijk(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of the transpose in :func:`canonical_dhw`: ``(C, D, H, W)`` -> ``(W, H, D[, C])``.

    Returns:
        ``(data, affine_ijk)``; the channel axis is dropped when there is one channel.
    """
    data = np.transpose(array, (3, 2, 1, 0))
    if data.shape[3] == 1:
        data = data[..., 0]
    return data, np.asarray(affine, dtype=np.float64)[:, [2, 1, 0, 3]]
