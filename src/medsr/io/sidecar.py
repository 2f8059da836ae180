"""JSON sidecars written next to outputs (what was applied, with which parameters and seed)."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medsr._version import __version__
from medsr.io.atomic import atomic_path, claim_outputs, write_text_atomic
from medsr.io.dispatch import extension, write_image_file

if TYPE_CHECKING:
    from medsr.volume import Volume


def _plain(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, tuples and paths to JSON types; non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return obj


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``out.nii.gz`` -> ``out.json`` (the image extension, ``.nii.gz`` included, is replaced)."""
    p = Path(output)
    name = p.name
    for ext in (".nii.gz", ".nii", ".npy", ".png", ".npz", ".h5"):
        if name.lower().endswith(ext):
            return p.with_name(name[: -len(ext)] + ".json")
    return p.with_name(name + ".json")


@contextlib.contextmanager
def claim_with_sidecar(output: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Claim ``output`` and its JSON sidecar before any work (see
    :func:`medsr.io.atomic.claim_outputs`); yields the output path."""
    path = Path(output)
    with claim_outputs([path, sidecar_path(path)], overwrite=overwrite):
        yield path


def write_json_sidecar(
    path: str | os.PathLike[str], data: dict[str, Any], *, overwrite: bool = False
) -> Path:
    """Write ``data`` as indented JSON, atomically.

    Args:
        path: The ``.json`` path (see :func:`sidecar_path` to derive it from an image path).
        data: JSON-able mapping; NumPy values, tuples and paths are converted.
        overwrite: Replace an existing file.

    Returns:
        The written path.

    Raises:
        MedsrError: If the file exists and ``overwrite`` is False.
    """
    text = json.dumps(_plain(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)


def write_with_sidecar(
    volume: Volume,
    output: str | os.PathLike[str],
    record: dict[str, Any],
    *,
    overwrite: bool = False,
    description: str | None = None,
) -> Path:
    """Write an image and its JSON sidecar together: both commit at the end or neither does (the
    one writer behind ``medsr degrade`` and ``medsr baseline``). ``medsr_version`` is added to
    ``record``; the image goes through :func:`medsr.io.dispatch.write_image_file`.

    Returns:
        The sidecar's path.
    """

    out = Path(output)
    side = sidecar_path(out)
    with (
        atomic_path(out, overwrite=overwrite) as tmp_out,
        atomic_path(side, overwrite=overwrite) as tmp_side,
    ):
        write_image_file(volume, tmp_out, extension(out), description=description)
        write_json_sidecar(tmp_side, {**record, "medsr_version": __version__}, overwrite=True)
    return side


def input_geometry(volume: Volume) -> dict[str, Any]:
    """Sidecar fields of an input's shape: ``input_shape`` in ``(D, H, W)`` order and
    ``input_shape_file``, the shape as the file stores it (NIfTI: ``nibabel.load(path).shape``;
    None for readers that do not record it, e.g. a DICOM series)."""
    shape = volume.meta.get("nifti_shape") if volume.meta.get("reader") == "nifti" else None
    return {
        "input_shape": list(volume.shape),
        "input_shape_file": None if shape is None else [int(n) for n in shape],
    }


def output_geometry(volume: Volume, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Sidecar fields saying where the voxels of ``volume``, written to ``path``, are.

    ``medsr`` indexes volumes ``(D, H, W)``; a NIfTI file indexes its voxels ``(i, j, k)``, the
    reverse (``W, H, D``), and :func:`~medsr.io.nifti.write_nifti` also restores a NIfTI source's
    own axis order and flips. Both orders are recorded so that nothing is ambiguous:

    * ``output_shape``, ``output_spacing`` (mm), ``output_affine_dhw``: ``(D, H, W)`` order; the
      4x4 takes ``(d, h, w, 1)`` to RAS+ world mm (``Volume.affine``, what ``read_volume`` of the
      output gives).
    * ``output_file_axes``: which ``medsr`` axis each axis of the written array holds: NIfTI e.g.
      ``["W", "H", "D"]`` (a permutation for a source stored in another order, ``"C"`` last for
      several channels); NPY ``["D", "H", "W"]`` (``["H", "W"]`` for a 2D image, ``["C", "D", "H", "W"]``
      for several channels); PNG ``["H", "W"]`` (rows, columns).
    * ``output_shape_file``: the written array's shape (``nibabel.load(out).shape``,
      ``numpy.load(out).shape``, ``numpy.asarray(PIL.Image.open(out)).shape``).
    * ``output_affine``: the 4x4 taking the written file's voxel index ``(i, j, k, 1)`` to RAS+
      world mm, i.e. ``nibabel.load(out).affine``; ``output_spacing_file`` its column lengths
      (mm per file axis, the header's ``pixdim``). Both None for NPY and PNG, which store no
      geometry (their spatial axes are ``(D, H, W)``: use ``output_affine_dhw``).

    Args:
        volume: The volume as passed to :func:`~medsr.io.write_volume`.
        path: The output path (its extension decides the format).
    """

    ext = extension(path)
    record: dict[str, Any] = {
        "output_shape": list(volume.shape),
        "output_spacing": [float(s) for s in volume.spacing],
        "output_affine_dhw": np.asarray(volume.affine, dtype=np.float64).tolist(),
    }
    affine: np.ndarray | None = None
    if ext in (".nii", ".nii.gz"):
        from medsr.io.nifti import nifti_file_geometry

        affine, shape, axes = nifti_file_geometry(volume)
    elif ext == ".png":
        shape, axes = tuple(volume.array.shape[2:]), ("H", "W")
    elif ext == ".npy":  # one channel: (D, H, W), or (H, W) for a 2D image
        from medsr.io.dispatch import npy_layout

        axes = npy_layout(volume)
        dims = dict(zip(("C", "D", "H", "W"), volume.array.shape, strict=True))
        shape = tuple(dims[a] for a in axes)
    else:
        raise ValueError(f"no file geometry for {ext or '(no extension)'!r}")
    record.update(
        output_file_axes=list(axes),
        output_shape_file=[int(n) for n in shape],
        output_affine=None if affine is None else affine.tolist(),
        output_spacing_file=None
        if affine is None
        else [float(v) for v in np.linalg.norm(affine[:3, :3], axis=0)],
    )
    return record
