"""NumPy arrays (``.npy``, ``.npz``) and the paired low-dose CT dict ``{'f_nd', 'f_qd'}``.

Plain arrays carry no geometry: spacing is 1 mm unless given, the affine axis-aligned. The paired
format is either an ``.npz`` with arrays ``f_nd`` (normal dose) and ``f_qd`` (quarter dose) or an
``.npy`` holding a pickled dict with those keys. Pickles can run code, so object ``.npy`` files are
unpickled by a restricted unpickler that only rebuilds NumPy arrays, and the result must be a dict
of arrays; anything else is refused.

Attenuation: some paired data sets store linear attenuation ``mu`` (1/mm) instead of HU. With
``attenuation=True`` they are converted by ``HU = (mu - mu_water) * 1000 / mu_water`` with
``mu_water`` = :data:`medsr.conventions.MU_WATER_PER_MM` (0.0192 /mm, about 70 keV) unless given.

Slice axis: a 3D array is read as ``(D, H, W)`` with slices along its first axis. Stacks saved
slice-last, such as the DFGAN data's ``(H, W, N)`` arrays, need ``slice_axis=2`` (or -1): that
axis is moved to the front, so the volume is ``(N, H, W)`` and each slice keeps its ``(H, W)``.
A 2D array is one slice whatever ``slice_axis`` says.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medsr.conventions import MU_WATER_PER_MM, UNIT_ARBITRARY, UNIT_HU
from medsr.errors import InputError
from medsr.io._common import check_file, check_finite, check_size
from medsr.volume import Volume

PAIRED_KEYS = ("f_nd", "f_qd")


def _as_volume(
    arr: Any,
    path: Path,
    *,
    what: str,
    spacing: Sequence[float] | None,
    modality: str,
    unit: str,
    allow_nonfinite: bool,
    reader: str,
    slice_axis: int = 0,
) -> Volume:
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise InputError(path, f"{what} has dtype {a.dtype}; expected a real numeric array")
    if a.ndim not in (2, 3):
        raise InputError(path, f"{what} has shape {a.shape}; expected a 2D or 3D array")
    if a.ndim == 3 and slice_axis not in (0, 1, 2, -1, -2, -3):
        raise InputError(path, f"slice_axis must be 0, 1 or 2 (or -1), got {slice_axis}")
    if a.ndim == 3 and slice_axis % 3:
        a = np.moveaxis(a, slice_axis, 0)
    check_size(path, a.shape)
    out = a.astype(np.float32)
    check_finite(out, path, allow_nonfinite=allow_nonfinite)
    sp = tuple(spacing) if spacing is not None else (1.0, 1.0, 1.0)
    if len(sp) == 2:
        sp = (1.0, *sp)
    if len(sp) != 3:
        raise InputError(path, f"spacing {spacing!r} must have 2 or 3 entries")
    meta: dict[str, Any] = {"path": str(path), "reader": reader, "key": what}
    if a.ndim == 3 and slice_axis % 3:
        meta["slice_axis"] = slice_axis % 3
    if spacing is None:
        meta["note"] = "no geometry in the file: 1 mm spacing assumed"
    return Volume.from_array(out, spacing=sp, modality=modality, unit=unit, meta=meta)


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an ``.npy`` header, checked against the file size."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            major, _ = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable NumPy .npy file ({exc})") from None
    if not dtype.hasobject:
        check_size(path, shape)
        need = offset + int(np.prod(shape)) * dtype.itemsize
        if path.stat().st_size < need:
            raise InputError(
                path, f"file is truncated: {path.stat().st_size} bytes, header needs {need}"
            )
    return tuple(shape), dtype


_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild NumPy arrays, dtypes and builtin containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def _safe_unpickle(path: Path) -> Any:
    """Unpickle an object ``.npy`` allowing only NumPy arrays (no arbitrary code)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            major, _ = fmt.read_magic(f)
            (fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0)(f)
            return _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as exc:
        raise InputError(path, f"refused or unreadable pickled .npy ({exc})") from None


def _load(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """An array or a dict of arrays; pickles only for an ``.npy`` object file, checked to be a dict."""
    if path.suffix.lower() == ".npz":
        if not zipfile.is_zipfile(path):
            raise InputError(path, "not a readable NumPy .npz file (not a zip archive)")
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(path, f"not a readable NumPy .npz file ({exc})") from None
    _, dtype = _npy_header(path)
    if not dtype.hasobject:
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(path, f"not a readable NumPy .npy file ({exc})") from None
    obj = _safe_unpickle(path)
    if obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()
    ):
        raise InputError(path, "object .npy must hold a dict of arrays (e.g. {'f_nd', 'f_qd'})")
    return obj


def read_array(
    path: str | os.PathLike[str],
    *,
    key: str | None = None,
    spacing: Sequence[float] | None = None,
    modality: str | None = None,
    allow_nonfinite: bool = False,
    slice_axis: int = 0,
) -> Volume:
    """Read a 2D or 3D array from ``.npy`` or ``.npz`` (or one array of a paired dict).

    Args:
        path: The file.
        key: Array name inside an ``.npz`` / dict; default: the only array, or ``f_nd`` for paired data.
        spacing: ``(sd, sh, sw)`` or ``(sh, sw)`` mm; default 1 mm.
        modality: ``"MR"`` (default), ``"CT"`` (values taken as HU) or ``"XR"``.
        allow_nonfinite: Keep NaN/Inf values.
        slice_axis: Axis of a 3D array along which its slices are stacked (module docstring).

    Returns:
        A volume with an axis-aligned affine.

    Raises:
        InputError: For an unreadable file, a missing key or a non-numeric / wrong-rank array.

    Shape:
        array: ``(1, D, H, W)``; a 2D array becomes ``(1, 1, H, W)``.
    """
    p = check_file(path)
    obj = _load(p)
    if isinstance(obj, np.ndarray):
        arr, name = obj, "array"
    else:
        names = list(obj)
        if key is None:
            key = "f_nd" if "f_nd" in names else (names[0] if len(names) == 1 else None)
        if key is None or key not in names:
            if key is not None:
                raise InputError(p, f"no array {key!r} in the file; it holds {names}")
            if not names:
                raise InputError(p, "the file holds no array")
            raise InputError(
                p,
                f"the file holds several arrays {names} and none is the default 'f_nd'; "
                "save the one to use as its own .npy",
            )
        arr, name = obj[key], key
    mod = modality or ("CT" if name in PAIRED_KEYS else "MR")
    unit = UNIT_HU if mod == "CT" else UNIT_ARBITRARY
    return _as_volume(
        arr, p, what=name, spacing=spacing, modality=mod, unit=unit,
        allow_nonfinite=allow_nonfinite, reader="numpy", slice_axis=slice_axis,
    )  # fmt: skip


def read_paired_ct(
    path: str | os.PathLike[str],
    *,
    attenuation: bool = False,
    mu_water: float = MU_WATER_PER_MM,
    spacing: Sequence[float] | None = None,
    allow_nonfinite: bool = False,
    slice_axis: int = 0,
) -> tuple[Volume, Volume]:
    """Read paired normal-/quarter-dose CT stored as ``{'f_nd': ..., 'f_qd': ...}``.

    The DFGAN data (``(H, W, N)`` arrays of linear attenuation) reads with
    ``attenuation=True, slice_axis=2``.

    Args:
        path: ``.npz`` with arrays ``f_nd`` and ``f_qd``, or ``.npy`` holding a pickled dict.
        attenuation: The arrays hold linear attenuation in 1/mm; convert them to HU.
        mu_water: Attenuation of water in 1/mm for that conversion.
        spacing: ``(sd, sh, sw)`` or ``(sh, sw)`` mm, in the order after ``slice_axis`` is
            moved to the front; default 1 mm.
        allow_nonfinite: Keep NaN/Inf values.
        slice_axis: Axis of 3D arrays along which the slices are stacked (2 for ``(H, W, N)``).

    Returns:
        ``(normal_dose, quarter_dose)`` CT volumes in HU.

    Raises:
        InputError: For a file without both keys, arrays of different shapes, or bad values.

    Shape:
        Each array: ``(1, D, H, W)``; 2D slices become ``(1, 1, H, W)``.
    """
    if mu_water <= 0:
        raise ValueError(f"mu_water must be positive (1/mm), got {mu_water}")
    p = check_file(path)
    obj = _load(p)
    names = [] if isinstance(obj, np.ndarray) else list(obj)
    missing = [k for k in PAIRED_KEYS if k not in names]
    if missing:
        raise InputError(
            p, f"paired CT needs keys {list(PAIRED_KEYS)}; missing {missing} (found {names})"
        )
    out = []
    for k in PAIRED_KEYS:
        arr = np.asarray(obj[k], dtype=np.float64)
        if attenuation:
            arr = (arr - mu_water) * 1000.0 / mu_water
        vol = _as_volume(
            arr, p, what=k, spacing=spacing, modality="CT", unit=UNIT_HU,
            allow_nonfinite=allow_nonfinite, reader="paired_ct", slice_axis=slice_axis,
        )  # fmt: skip
        vol.meta.update(
            dose="normal" if k == "f_nd" else "quarter", attenuation_converted=attenuation
        )
        if attenuation:
            vol.meta["mu_water_per_mm"] = mu_water
        out.append(vol)
    if out[0].shape != out[1].shape:
        raise InputError(p, f"f_nd {out[0].shape} and f_qd {out[1].shape} differ in shape")
    return out[0], out[1]
