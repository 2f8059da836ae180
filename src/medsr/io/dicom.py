"""DICOM readers: single files (compressed transfer syntaxes via the pylibjpeg plugins) and series.

Geometry: DICOM patient coordinates are LPS; the affine is converted to RAS+ (x and y negated).
Pixel ``(row r, column c)`` of a slice sits at ``IPP + c * dc * IOP[:3] + r * dr * IOP[3:]`` with
``PixelSpacing = (dr, dc)``. Slices of a series are sorted by their position along the slice normal
``IOP[:3] x IOP[3:]``; the slice step is the mean difference of consecutive positions (a gantry tilt
gives a sheared affine, which is kept). Intensities go through the modality LUT (rescale slope and
intercept), so CT comes out in HU. ``MONOCHROME1`` images (X-ray) are inverted to ``MONOCHROME2``.

Layout: a series (more than one slice) is reoriented like NIfTI (``D = S``, ``H = A``, ``W = R``);
a single slice stays ``(1, rows, columns)`` in display order, its affine saying where it lies.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medsr.conventions import UNIT_ARBITRARY, UNIT_HU
from medsr.errors import InputError
from medsr.io._common import canonical_dhw, check_file, check_finite, check_size
from medsr.io.dicom_gaps import check_instances, check_slice_tolerance, check_spacing, instance
from medsr.volume import Volume

_XR = {"CR", "DX", "RG", "XA", "RF", "MG", "PX", "IO", "DF"}
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def dicom_modality(ds: Any, override: str | None, source: Path) -> str:
    """Map the DICOM ``Modality`` tag to ``"CT"``, ``"MR"`` or ``"XR"`` (``override`` wins).

    Raises:
        InputError: For a modality medsr does not handle and no override.
    """
    if override is not None:
        return override
    tag = str(ds.get("Modality", "")).upper()
    if tag in ("CT", "MR"):
        return tag
    if tag in _XR:
        return "XR"
    raise InputError(
        source, f"DICOM modality {tag or 'missing'!r} is not CT/MR/X-ray; pass modality="
    )


def _floats(ds: Any, keyword: str, n: int) -> np.ndarray | None:
    value = ds.get(keyword)
    if value is None:
        return None
    seq = isinstance(value, Sequence) and not isinstance(value, str | bytes)
    values = list(value) if seq else [value]
    try:
        arr = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        return None
    return arr


def pixel_spacing(ds: Any) -> tuple[tuple[float, float], bool]:
    """``(row spacing, column spacing)`` in mm and whether it came from the file (else 1 mm)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        ps = _floats(ds, keyword, 2)
        if ps is not None and np.all(ps > 0):
            return (float(ps[0]), float(ps[1])), True
    return (1.0, 1.0), False


def _orientation(ds: Any) -> np.ndarray | None:
    iop = _floats(ds, "ImageOrientationPatient", 6)
    if iop is None or np.linalg.norm(np.cross(iop[:3], iop[3:])) < 0.5:
        return None
    return iop


def _pixels(ds: Any, source: Path) -> np.ndarray:
    """One frame (or frames) through the modality LUT, as float32 ``(frames, rows, cols)``."""
    from pydicom.pixels import apply_modality_lut

    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(source, "colour DICOM (SamplesPerPixel > 1) is not supported")
    check_size(source, (int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns)))
    try:
        raw = ds.pixel_array
    except Exception as exc:
        raise InputError(
            source, f"cannot decode pixel data ({' '.join(str(exc).split())[:160]})"
        ) from None
    values = np.asarray(apply_modality_lut(raw, ds), dtype=np.float32)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        top = float(2 ** int(ds.get("BitsStored", 16)) - 1) if raw.dtype.kind == "u" else None
        top = top if top is not None else float(values.max() + values.min())
        values = top - values
    return values.reshape((-1, *values.shape[-2:]))


def _unit(modality: str) -> str:
    return UNIT_HU if modality == "CT" else UNIT_ARBITRARY


def _slice_affine(ds: Any, n_slices: int, step: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """LPS->RAS affine for index order ``(column, row, slice)``; flag True if from IOP/IPP."""
    (dr, dc), _ = pixel_spacing(ds)
    iop = _orientation(ds)
    ipp = _floats(ds, "ImagePositionPatient", 3)
    dz = 1.0  # one slice: its thickness; several: the nominal step (the IPPs win when present)
    keys = ("SliceThickness", "SpacingBetweenSlices")
    for keyword in keys if n_slices == 1 else keys[::-1]:
        value = _floats(ds, keyword, 1)
        if value is not None and value[0] > 0:
            dz = float(value[0])
            break
    aff = np.eye(4)
    if iop is None or ipp is None:
        aff[0, 0], aff[1, 1], aff[2, 2] = dc, dr, dz
        return aff, False
    normal = np.cross(iop[:3], iop[3:])
    aff[:3, 0] = iop[:3] * dc
    aff[:3, 1] = iop[3:] * dr
    aff[:3, 2] = step if step is not None and n_slices > 1 else normal * dz
    aff[:3, 3] = ipp
    return _LPS_TO_RAS @ aff, True


def _check_consistent(datasets: Sequence[tuple[str, Any]], source: Path) -> None:
    """Same size, orientation and pixel spacing on every slice, one frame each."""
    first = datasets[0][1]
    iop = _orientation(first)
    for name, ds in datasets:
        if (int(ds.Rows), int(ds.Columns)) != (int(first.Rows), int(first.Columns)):
            raise InputError(source, f"slices differ in size ({name}); pass one series folder")
        if int(ds.get("NumberOfFrames", 1) or 1) != 1:
            raise InputError(source, f"multi-frame file {name} inside a series folder")
        other = _orientation(ds)
        same = (iop is None and other is None) or (
            iop is not None and other is not None and np.allclose(iop, other, atol=1e-4)
        )
        if not same:
            raise InputError(source, f"slices have inconsistent orientation ({name})")
        if not np.allclose(pixel_spacing(ds)[0], pixel_spacing(first)[0], rtol=1e-4):
            raise InputError(source, f"slices differ in pixel spacing ({name})")


def _sort_by_position(
    datasets: Sequence[tuple[str, Any]], source: Path, tolerance: float | None = None
) -> tuple[list[tuple[str, Any]], np.ndarray | None]:
    """Slices in order along the normal and the mean slice step (LPS mm); by InstanceNumber when
    positions are missing (step None). Gaps are refused (:func:`~medsr.io.dicom_gaps.check_spacing`)."""
    iop = _orientation(datasets[0][1])
    ipps = [_floats(ds, "ImagePositionPatient", 3) for _, ds in datasets]
    if iop is None or any(p is None for p in ipps):
        ordered = sorted(datasets, key=lambda t: (instance(t[1]) or 0, t[0]))
        check_instances(ordered, source)
        return ordered, None
    normal = np.cross(iop[:3], iop[3:])
    keyed = sorted(
        ((float(normal @ p), i) for i, p in enumerate(ipps) if p is not None), key=lambda t: t[0]
    )
    z = np.asarray([key for key, _ in keyed])
    if np.any(np.diff(z) < 1e-3):
        raise InputError(
            source, "two slices share a position (several echoes/phases?); pass one series"
        )
    order = [i for _, i in keyed]
    ordered = [datasets[i] for i in order]
    check_spacing(ordered, z, normal, source, tolerance)
    first, last = ipps[order[0]], ipps[order[-1]]
    assert first is not None and last is not None
    return ordered, (last - first) / (len(order) - 1)


def image_datasets(found: Sequence[tuple[str, Any]], source: Path) -> list[tuple[str, Any]]:
    """The datasets of ``found`` that hold an image; others (DICOMDIR, reports) are left out.

    Raises:
        InputError: Naming a file that is a slice of the series (image geometry, same
            SeriesInstanceUID) but carries no pixel data: dropping it would leave a gap.
    """
    images = [(n, ds) for n, ds in found if "PixelData" in ds and "Rows" in ds]
    uids = {str(ds.get("SeriesInstanceUID", "")) for _, ds in images}
    for name, ds in found:
        if "PixelData" in ds and "Rows" in ds:
            continue
        slice_like = "Rows" in ds or "ImagePositionPatient" in ds
        if slice_like and images and str(ds.get("SeriesInstanceUID", "")) in uids:
            number = instance(ds)
            which = f" (InstanceNumber {number})" if number is not None else ""
            raise InputError(
                source / name,
                f"slice of the series without pixel data{which}; the volume would have a gap: "
                "restore the file",
            )
    return images


def assemble_series(
    datasets: Sequence[tuple[str, Any]],
    source: Path,
    *,
    modality: str | None = None,
    allow_nonfinite: bool = False,
    slice_tolerance: float | None = None,
) -> Volume:
    """Build one volume from the datasets of one series.

    Args:
        datasets: ``(name, pydicom Dataset)`` pairs, in any order.
        source: Folder or archive they came from (for messages and ``meta["path"]``).
        modality: Override of the ``Modality`` tag.
        allow_nonfinite: Keep NaN/Inf values.
        slice_tolerance: How far (mm) a slice gap may differ from the mean spacing; default: what
            the rounding of the written positions explains (their decimal places).

    Returns:
        The stacked, reoriented volume.

    Raises:
        InputError: For no slices, several series, inconsistent slices, duplicate positions,
            a missing slice (named) or uneven spacing beyond the tolerance.

    Shape:
        array: ``(1, D, H, W)``.
    """
    if not datasets:
        raise InputError(source, "no DICOM files found")
    uids = {str(ds.get("SeriesInstanceUID", "")) for _, ds in datasets}
    if len(uids) > 1:
        raise InputError(source, f"{len(uids)} series found; pass one series folder")
    if len(datasets) == 1:
        return read_dataset(
            datasets[0][1], source, modality=modality, allow_nonfinite=allow_nonfinite
        )
    check_slice_tolerance(slice_tolerance, source)
    first = datasets[0][1]
    _check_consistent(datasets, source)
    ordered, step = _sort_by_position(datasets, source, slice_tolerance)
    affine, from_file = _slice_affine(ordered[0][1], len(ordered), step)
    mod = dicom_modality(first, modality, source)
    check_size(source, (len(ordered), int(first.Rows), int(first.Columns)))
    stack = np.stack([_pixels(ds, source / name)[0] for name, ds in ordered])  # (k, rows, cols)
    check_finite(stack, source, allow_nonfinite=allow_nonfinite)
    array, aff, ornt = canonical_dhw(np.transpose(stack, (2, 1, 0)), affine)
    meta = _meta(first, source, "dicom_series", from_file)
    meta.update(n_slices=len(ordered), dicom_ornt=ornt.tolist(), files=[n for n, _ in ordered])
    return Volume(
        array=array, spacing=_spacing(aff), affine=aff, modality=mod, unit=_unit(mod), meta=meta
    )


def _spacing(aff: np.ndarray) -> tuple[float, float, float]:
    s = np.linalg.norm(aff[:3, :3], axis=0)
    return float(s[0]), float(s[1]), float(s[2])


def _meta(ds: Any, source: Path, reader: str, geometry_from_file: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"path": str(source), "reader": reader}
    for key in ("Modality", "SeriesInstanceUID", "SeriesDescription", "PhotometricInterpretation"):
        if key in ds:
            meta[key] = str(ds.get(key))
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is not None:
        meta["transfer_syntax"] = str(tsyntax.name)
    if not geometry_from_file:
        meta["note"] = "no ImageOrientation/PositionPatient: axis-aligned affine assumed"
    if not pixel_spacing(ds)[1]:
        meta["note_spacing"] = "no valid pixel spacing in the file: 1 mm assumed"
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        meta["note_monochrome1"] = "MONOCHROME1 inverted so that higher values are brighter"
    return meta


def read_dataset(
    ds: Any, source: Path, *, modality: str | None = None, allow_nonfinite: bool = False
) -> Volume:
    """Volume of one (possibly multi-frame) dataset; frames are stacked along the slice normal.

    Shape:
        array: ``(1, frames, rows, columns)``.
    """
    mod = dicom_modality(ds, modality, source)
    frames = _pixels(ds, source)
    check_finite(frames, source, allow_nonfinite=allow_nonfinite)
    affine_ijk, from_file = _slice_affine(ds, frames.shape[0], None)
    aff = affine_ijk[:, [2, 1, 0, 3]]
    meta = _meta(ds, source, "dicom", from_file)
    if frames.shape[0] > 1:
        meta["note_frames"] = (
            "multi-frame: frames stacked along the slice normal at uniform spacing"
        )
    return Volume(
        array=np.ascontiguousarray(frames[None]),
        spacing=_spacing(aff),
        affine=aff,
        modality=mod,
        unit=_unit(mod),
        meta=meta,
    )


def _dcmread(source: Any) -> Any:
    """``pydicom.dcmread`` that also accepts files without the preamble; None if unreadable."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(source)
    except InvalidDicomError:
        if hasattr(source, "seek"):
            source.seek(0)
    except Exception:
        return None
    try:
        return pydicom.dcmread(source, force=True)
    except Exception:
        return None


def read_dicom_file(
    path: str | os.PathLike[str], *, modality: str | None = None, allow_nonfinite: bool = False
) -> Volume:
    """Read one DICOM file.

    Args:
        path: The file (any transfer syntax pydicom and the pylibjpeg plugins decode).
        modality: Override of the ``Modality`` tag (``"CT"``, ``"MR"``, ``"XR"``).
        allow_nonfinite: Keep NaN/Inf values.

    Returns:
        The image, CT in HU, with an RAS+ affine from IOP/IPP when present.

    Raises:
        InputError: For a missing, empty, non-DICOM or undecodable file.

    Shape:
        array: ``(1, frames, rows, columns)``.
    """
    p = check_file(path)
    ds = _dcmread(p)
    if ds is None:
        raise InputError(p, "not a readable DICOM image file")
    if "PixelData" not in ds or "Rows" not in ds or "Columns" not in ds:
        raise InputError(p, "not a DICOM image (no pixel data)")
    return read_dataset(ds, p, modality=modality, allow_nonfinite=allow_nonfinite)


def read_dicom_series(
    folder: str | os.PathLike[str],
    *,
    modality: str | None = None,
    allow_nonfinite: bool = False,
    slice_tolerance: float | None = None,
) -> Volume:
    """Read a folder holding the DICOM files of one series (files that are not DICOM are skipped).

    Args:
        folder: The series folder (not searched recursively).
        modality: Override of the ``Modality`` tag.
        allow_nonfinite: Keep NaN/Inf values.
        slice_tolerance: Accepted deviation (mm) of a slice gap from the mean spacing; default:
            what the rounding of the written positions explains.

    Returns:
        The sorted, rescaled and reoriented volume.

    Raises:
        InputError: For an empty folder, several series, inconsistent slices, a slice without
            pixel data or a missing slice (named), or uneven spacing.

    Shape:
        array: ``(1, D, H, W)``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    datasets = []
    for f in sorted(root.iterdir()):
        if not f.is_file() or f.name.startswith(".") or f.stat().st_size == 0:
            continue
        ds = _dcmread(f)
        if ds is not None:
            datasets.append((f.name, ds))
    datasets = image_datasets(datasets, root)
    if not datasets:
        raise InputError(root, "folder holds no DICOM image files")
    return assemble_series(
        datasets,
        root,
        modality=modality,
        allow_nonfinite=allow_nonfinite,
        slice_tolerance=slice_tolerance,
    )
