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

import os
import plistlib
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from medsr.conventions import UNIT_HU
from medsr.data.volume import Volume
from medsr.errors import InputError
from medsr.io._common import check_file

_DTYPES = {"int16": "<i2", "uint16": "<u2", "int8": "i1", "uint8": "u1", "float32": "<f4"}


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    for m in tar.getmembers():
        if m.isfile() and Path(m.name).name == name:
            f = tar.extractfile(m)
            if f is None:  # pragma: no cover - isfile() guarantees a file object
                break
            return f.read()
    raise InputError(path, f"InVesalius archive has no {name!r} member")


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
            info: dict[str, Any] = plistlib.loads(_member(tar, "main.plist", p))
            matrix = info.get("matrix") or {}
            raw = _member(tar, str(matrix.get("filename", "matrix.dat")), p)
    except (tarfile.TarError, OSError, EOFError, plistlib.InvalidFileException) as exc:
        raise InputError(p, f"not a readable InVesalius .inv3 archive ({exc})") from None
    dtype = _DTYPES.get(str(matrix.get("dtype")))
    shape = tuple(int(n) for n in matrix.get("shape", ()))
    spacing = tuple(float(s) for s in info.get("spacing", ()))
    if dtype is None or len(shape) != 3 or len(spacing) != 3:
        raise InputError(p, f"main.plist lacks a usable matrix dtype/shape/spacing: {matrix}")
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise InputError(
            p, f"matrix.dat has {len(raw)} bytes; main.plist shape {shape} needs {expected}"
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
