"""NIfTI (``.nii``, ``.nii.gz``) reader and writer.

Reading reorients to the closest canonical RAS+ layout and transposes to ``(C, D, H, W)`` with
``D = S``, ``H = A``, ``W = R``; the original orientation is kept in ``meta["nifti_ornt"]`` (and
``meta["nifti_axcodes"]``) so :func:`write_nifti` writes voxels back in the file's original order.
The header is checked before any voxel is read: zero-size axes, absurd sizes and uncompressed files
too short for their declared size are refused without allocating.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from medsr.errors import InputError
from medsr.io._common import canonical_dhw, check_file, check_finite, check_size, dhw_to_ijk
from medsr.volume import Volume


def _spatial_shape(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The 3D shape of a header shape; trailing singleton axes are squeezed."""
    dims = list(shape)
    while len(dims) > 3 and dims[-1] == 1:
        dims.pop()
    if len(dims) > 3:
        raise InputError(
            path,
            f"{len(dims)}D image {tuple(shape)} where a 3D volume is expected; extract one volume",
        )
    while len(dims) < 3:
        dims.append(1)
    return dims[0], dims[1], dims[2]


def _load_header(p: Path) -> Any:
    import nibabel as nib

    try:
        img = nib.load(p)
    except (
        nib.filebasedimages.ImageFileError,
        nib.spatialimages.HeaderDataError,
        OSError,
        EOFError,
        zlib.error,
        ValueError,
    ) as exc:
        raise InputError(p, f"not a readable NIfTI file ({_short(exc)})") from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(p, f"not a NIfTI image ({type(img).__name__})")
    return img


def _read_peak(img: Any) -> float:
    """Peak bytes per voxel while reading: the raw voxels, nibabel's float64 copy when the file
    scales them (``scl_slope``/``scl_inter``, which nibabel moves from the loaded header to the
    data proxy) or stores float64, and the float32 array; with a 1.25 margin.

    Measured with ``benchmarks/memory_factors.py`` (``read*``): int16 4.5 B, float32 7.6 B,
    float64 16.1 B, scaled int16 15.4 B per voxel. The float32 array comes out in the file's
    (Fortran) order, so the transpose to ``(C, D, H, W)`` is a view, not a copy.
    """
    dtype = img.header.get_data_dtype()
    slope = float(getattr(img.dataobj, "slope", 1.0))
    inter = float(getattr(img.dataobj, "inter", 0.0))
    wide = slope != 1.0 or inter != 0.0 or (dtype.kind == "f" and dtype.itemsize > 4)
    return 1.25 * (float(dtype.itemsize) + (8.0 if wide else 0.0) + 4.0)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    """Refuse voxel types that are not one real value per voxel (before any voxel is read)."""
    if dtype.kind == "c":
        raise InputError(
            path,
            f"complex-valued image ({dtype.name}); medsr enhances magnitude images: save the "
            "magnitude (abs of the data) as a real-valued NIfTI and pass that",
        )
    if dtype.names is not None and set(dtype.names) >= {"R", "G", "B"}:
        kind = "RGBA" if "A" in dtype.names else "RGB"
        raise InputError(
            path,
            f"{kind} colour image; medsr reads single-channel (greyscale) scans: convert it to "
            "one channel (e.g. its luminance) first",
        )
    if dtype.kind not in "biuf":
        raise InputError(path, f"voxel type {dtype} is not a real number type")


def read_nifti(
    path: str | os.PathLike[str],
    *,
    modality: str | None = None,
    allow_nonfinite: bool = False,
) -> Volume:
    """Read a 3D NIfTI file as a canonical RAS+ :class:`~medsr.data.Volume`.

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
        modality: ``"MR"`` (default) or ``"CT"``; CT data is taken to be in HU.
        allow_nonfinite: Keep NaN/Inf voxels instead of refusing the file.

    Returns:
        Float32 volume; ``meta`` holds ``path``, ``reader``, ``nifti_ornt``, ``nifti_axcodes``,
        ``nifti_shape``, ``qform_code``, ``sform_code``, ``descrip`` and, when the header's
        ``dim_info`` records one, ``nifti_slice_dim`` (the file axis of the acquired slices).

    Raises:
        InputError: For an empty, truncated, non-NIfTI, 4D, zero-size, oversized, complex,
            RGB or non-finite file.

    Shape:
        array: ``(1, D, H, W)``: ``D`` towards superior, ``H`` anterior, ``W`` right.
    """
    from nibabel.orientations import ornt2axcodes

    p = check_file(path)
    img = _load_header(p)
    header = img.header
    _check_dtype(p, header.get_data_dtype())
    shape = tuple(int(n) for n in header.get_data_shape())
    spatial = _spatial_shape(p, shape)
    check_size(p, spatial, itemsize=_read_peak(img))
    if not p.name.endswith(".gz"):
        offset = int(header.get_data_offset())
        need = offset + int(np.prod(shape)) * header.get_data_dtype().itemsize
        if p.stat().st_size < need:
            raise InputError(p, f"file is truncated: {p.stat().st_size} bytes, header needs {need}")
    affine = img.affine
    if (
        affine is None
        or not np.all(np.isfinite(affine))
        or abs(np.linalg.det(affine[:3, :3])) < 1e-12
    ):
        raise InputError(p, "header has no valid voxel-to-world affine")
    try:
        data = np.asarray(img.dataobj, dtype=np.float32).reshape(spatial)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise InputError(
            p, f"cannot read voxel data; truncated or corrupt ({_short(exc)})"
        ) from None
    check_finite(data, p, allow_nonfinite=allow_nonfinite)
    array, aff, ornt = canonical_dhw(data, affine)
    mod = modality or "MR"
    sform_code = int(header["sform_code"]) if "sform_code" in header else 0
    qform_code = int(header["qform_code"]) if "qform_code" in header else 0
    descrip = header["descrip"].item() if "descrip" in header else b""
    extra: dict[str, Any] = {}
    slice_dim = _slice_dim(header, len(shape))
    if slice_dim is not None:
        extra["nifti_slice_dim"] = slice_dim
    return Volume(
        array=array,
        spacing=tuple(float(v) for v in np.linalg.norm(aff[:3, :3], axis=0)),  # type: ignore[arg-type]
        affine=aff,
        modality=mod,
        unit="HU" if mod == "CT" else "a.u.",
        meta={
            "path": str(p),
            "reader": "nifti",
            "nifti_ornt": ornt.tolist(),
            "nifti_axcodes": "".join(str(c) for c in ornt2axcodes(ornt)),
            "nifti_shape": list(shape),
            "qform_code": qform_code,
            "sform_code": sform_code,
            "descrip": descrip.decode("latin-1", "replace") if isinstance(descrip, bytes) else "",
            **extra,
        },
    )


def _slice_dim(header: Any, ndim: int) -> int | None:
    """The file axis the header's ``dim_info`` records as the slice (acquisition) axis, if any."""
    try:
        slice_dim = header.get_dim_info()[2]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if slice_dim is None or not 0 <= int(slice_dim) < min(3, ndim):
        return None
    return int(slice_dim)


def write_nifti(
    volume: Volume,
    path: Path,
    *,
    description: str | None = None,
    dtype: type[np.generic] = np.float32,
) -> None:
    """Write ``volume`` to ``path`` (float32, or ``dtype``: ``np.uint8`` for a label map),
    restoring the original voxel order when known.

    The caller handles atomicity (see :func:`medsr.io.write_volume`).

    Args:
        volume: The volume; its affine (index order ``d, h, w``) becomes the NIfTI affine.
        path: Destination ending in ``.nii`` or ``.nii.gz``.
        description: Text for the header's ``descrip`` field (80 bytes at most).
        dtype: Voxel type on disk; an integer type stores the rounded values.
    """
    import nibabel as nib
    from nibabel.orientations import apply_orientation

    data, affine = dhw_to_ijk(volume.array.astype(np.float32, copy=False), volume.affine)
    affine, transform = _file_order(volume, affine, data.shape[:3])
    if transform is not None:
        data = apply_orientation(data, transform)
    if np.issubdtype(dtype, np.integer):
        data = np.rint(data)
    img = nib.Nifti1Image(np.ascontiguousarray(data, dtype=dtype), affine)
    sform_code = int(volume.meta.get("sform_code") or 1)
    qform_code = int(volume.meta.get("qform_code") or 1)
    img.set_sform(affine, code=sform_code)
    img.set_qform(affine, code=qform_code)
    img.header.set_xyzt_units(xyz="mm")
    if description is not None:
        img.header["descrip"] = description.encode("utf-8")[:79]
    slice_dim = volume.meta.get("nifti_slice_dim")
    if slice_dim is not None and transform is not None:  # written back in the source's order
        img.header.set_dim_info(slice=int(slice_dim))
    nib.save(img, str(path))


def _file_order(
    volume: Volume, affine_ijk: np.ndarray, shape_ijk: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The written file's affine and the orientation transform from :func:`dhw_to_ijk` order
    ``(W, H, D)`` to the file's voxel order (None when the volume records no NIfTI orientation)."""
    from nibabel.orientations import inv_ornt_aff, io_orientation, ornt_transform

    target = volume.meta.get("nifti_ornt")
    if target is None:
        return affine_ijk, None
    current = io_orientation(affine_ijk)
    transform = ornt_transform(current, np.asarray(target, dtype=np.float64))
    return affine_ijk @ inv_ornt_aff(transform, shape_ijk[:3]), transform


def nifti_file_geometry(volume: Volume) -> tuple[np.ndarray, tuple[int, ...], tuple[str, ...]]:
    """Where :func:`write_nifti` puts ``volume``'s voxels, without writing (or copying) them.

    Returns:
        ``(affine, shape, axes)``: the 4x4 taking the written file's voxel index ``(i, j, k, 1)``
        to RAS+ world mm (what ``nibabel.load(path).affine`` reports), the file's array shape
        (``nibabel.load(path).shape``; a channel axis last when there are several), and which
        ``medsr`` axis each file axis holds (e.g. ``("W", "H", "D")``, a flip or permutation
        of them for a file written back in a non-RAS source order; ``"C"`` for channels).
    """
    data, affine = dhw_to_ijk(volume.array, volume.affine)  # transposed view, no copy
    names = ["W", "H", "D"]
    shape = list(data.shape)
    affine, transform = _file_order(volume, affine, data.shape[:3])
    if transform is not None:
        file_names, file_shape = list(names), shape[:3]
        for n, (to, _flip) in enumerate(transform):
            file_names[int(to)], file_shape[int(to)] = names[n], shape[n]
        names, shape[:3] = file_names, file_shape
    if len(shape) > 3:
        names.append("C")
    return np.asarray(affine, dtype=np.float64), tuple(int(n) for n in shape), tuple(names)
