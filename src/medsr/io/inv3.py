"""Reader for InVesalius project files (``.inv3``).

An ``.inv3`` file is a gzip-compressed tar archive. Its ``main.plist`` (an Apple property list)
describes the image: ``matrix`` gives ``filename`` (``matrix.dat``), ``dtype`` (``int16``) and
``shape`` ``[slices, rows, cols]``; ``spacing`` is ``[column, row, slice]`` in mm; ``modality``
and ``scalar_range`` complete it. ``matrix.dat`` is the raw little-endian voxel array in HU.

Orientation: InVesalius stores axial slices with the image rows flipped relative to DICOM
(row 0 is posterior, the last row anterior) and slices ordered inferior to superior. Columns keep
the DICOM direction (towards the patient's left). The reader flips the column axis so the returned
:class:`~medsr.data.Volume` follows the reader-wide layout ``D = S``, ``H = A``, ``W = R``
(increasing towards superior, anterior, right). Left/right cannot be verified from the image
itself; it is the DICOM convention InVesalius keeps.
"""

from __future__ import annotations

import math
import os
import plistlib
import tarfile
import zlib
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

import numpy as np

from medsr.conventions import UNIT_HU
from medsr.errors import InputError
from medsr.io._common import check_file, check_size
from medsr.volume import Volume

_DTYPES = {"int16": "<i2", "uint16": "<u2", "int8": "i1", "uint8": "u1", "float32": "<f4"}


def _find(tar: tarfile.TarFile, name: str, path: Path) -> tarfile.TarInfo:
    for m in tar.getmembers():
        if m.isfile() and Path(m.name).name == name:
            return m
    raise InputError(path, f"InVesalius archive has no {name!r} member")


def _member(tar: tarfile.TarFile, name: str, path: Path, *, size: int | None = None) -> bytes:
    """A member's bytes; with ``size``, its declared size is checked before anything is read."""
    m = _find(tar, name, path)
    if size is not None and m.size != size:
        raise InputError(path, f"{name} has {m.size} bytes; main.plist declares {size}")
    f = tar.extractfile(m)
    if f is None:  # pragma: no cover - isfile() guarantees a file object
        raise InputError(path, f"InVesalius archive member {name!r} is not readable")
    return f.read()


def _matrix_fields(info: Any, path: Path) -> tuple[str, str, tuple[int, ...], tuple[float, ...]]:
    """``(filename, dtype, shape, spacing)`` of ``main.plist``, checked before any voxel is read.

    Raises:
        InputError: Naming the field that is missing or malformed.
    """
    if not isinstance(info, dict):
        raise InputError(path, f"main.plist is a {type(info).__name__}, not a dictionary")
    matrix = info.get("matrix")
    if not isinstance(matrix, dict):
        raise InputError(path, "main.plist has no 'matrix' dictionary")
    dtype = _DTYPES.get(str(matrix.get("dtype")))
    if dtype is None:
        raise InputError(
            path, f"main.plist matrix dtype {matrix.get('dtype')!r} is not one of {list(_DTYPES)}"
        )
    shape, spacing = matrix.get("shape"), info.get("spacing")
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(n) is int for n in shape)):
        raise InputError(path, f"main.plist matrix shape {shape!r} is not 3 integers")
    nums = isinstance(spacing, list) and all(type(v) in (int, float) for v in spacing)
    if not (nums and isinstance(spacing, list) and len(spacing) == 3) or not all(
        math.isfinite(v) and v > 0 for v in spacing
    ):
        raise InputError(path, f"main.plist spacing {spacing!r} is not 3 positive numbers (mm)")
    name = matrix.get("filename", "matrix.dat")
    if not isinstance(name, str) or not name:
        raise InputError(path, f"main.plist matrix filename {name!r} is not a file name")
    return name, dtype, tuple(shape), tuple(float(v) for v in spacing)


def read_inv3(path: str | os.PathLike[str]) -> Volume:
    """Read the image of an InVesalius ``.inv3`` project without extracting it to disk.

    Args:
        path: The ``.inv3`` file.

    Returns:
        A single-channel volume in HU (CT) with spacing ``(slice, row, col)`` mm and an RAS+ affine
        whose field of view is centred on the world origin.

    Raises:
        InputError: If the file is not a readable InVesalius archive or its matrix does not match
            the size declared in ``main.plist``.

    Shape:
        array: ``(1, slices, rows, cols)``.
    """
    p = check_file(path)
    try:
        with tarfile.open(p, mode="r:gz") as tar:
            blob = _member(tar, "main.plist", p)
            try:
                info = plistlib.loads(blob)
            except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError) as exc:
                raise InputError(p, f"main.plist is not a property list ({exc})") from None
            filename, dtype, shape, spacing = _matrix_fields(info, p)
            check_size(p, shape)
            expected = math.prod(shape) * np.dtype(dtype).itemsize
            raw = _member(tar, filename, p, size=expected)  # size checked before reading
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InputError(p, f"not a readable InVesalius .inv3 archive ({exc})") from None
    if len(raw) != expected:
        raise InputError(
            p, f"{filename} has {len(raw)} bytes; main.plist shape {shape} needs {expected}"
        )
    data = np.frombuffer(raw, dtype=dtype).reshape(shape)[:, :, ::-1].astype(np.float32)
    sw, sh, sd = spacing  # plist order: column, row, slice
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = sd, sh, sw, 1.0
    centre = affine[:3, :3] @ ((np.asarray(shape, dtype=np.float64) - 1.0) / 2.0)
    affine[:3, 3] = -centre
    modality = str(info.get("modality", "CT")).upper()
    return Volume(
        array=data[None],
        spacing=(sd, sh, sw),
        affine=affine,
        modality=modality if modality in ("CT", "MR") else "CT",
        unit=UNIT_HU if modality == "CT" else "a.u.",
        meta={
            "path": str(p),
            "reader": "inv3",
            "name": info.get("name"),
            "scalar_range": info.get("scalar_range"),
            "window_level": info.get("window_level"),
            "window_width": info.get("window_width"),
        },
    )
