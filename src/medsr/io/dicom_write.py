"""Write an enhanced volume as a new DICOM series (new UIDs, updated spacing and thickness).

Slices follow the source series' own slice, row and column axes when the volume came from DICOM
(``meta["dicom_ornt"]``), so the result scrolls like the original; other sources give axial-style
slices (rows towards posterior, columns towards the patient's left). Patient and study tags and
the frame of reference are copied from the source's first file when there is one (the geometry
is in the same patient coordinate system); series and instance UIDs are new. CT is stored as HU
in int16 (slope 1); MR and X-ray as int16 with a rescale slope chosen from the value range.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from medsr.volume import Volume

_COPY = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "PatientPosition",
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "StudyDescription", "AccessionNumber",
    "ReferringPhysicianName", "FrameOfReferenceUID", "BodyPartExamined", "Manufacturer",
)  # fmt: skip
_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _template(volume: Volume) -> Any:
    """The source's first DICOM dataset (header only), or None."""
    import pydicom

    meta = volume.meta
    reader = meta.get("reader")
    src = Path(str(meta.get("path", "")))
    if reader == "dicom_series" and meta.get("files"):
        src = src / str(meta["files"][0])
    elif reader != "dicom":
        return None
    try:
        return pydicom.dcmread(src, stop_before_pixels=True)
    except Exception:
        return None


def _source_description(volume: Volume, template: Any) -> str:
    """The source series' SeriesDescription (from the reader's record or its first file)."""
    text = volume.meta.get("SeriesDescription")
    if not text and template is not None:
        text = template.get("SeriesDescription")
    return " ".join(str(text or "").split())


def series_description(source: str, description: str) -> str:
    """``"<source> | <description>"``, at most 64 characters (DICOM LO).

    The source's own text comes first, as a viewer's series list shows it; when the two do not
    fit, the source is shortened so that medsr's part stays whole (the full text of both is also
    in DerivationDescription), down to 12 characters of the source.
    """
    if not source:
        return description[:64]
    joined = f"{source} | {description}"
    if len(joined) <= 64:
        return joined
    room = 64 - 3 - len(description)
    if room >= 12:
        return f"{source[: room - 1].rstrip()}~ | {description}"
    return joined[:64]


def _slice_layout(volume: Volume) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]]:
    """Volume axes used as (slice, row, column) and whether each is reversed."""
    ornt = volume.meta.get("dicom_ornt")
    if ornt is None:
        return (0, 1, 2), (False, True, True)
    o = np.asarray(ornt)
    axes = tuple(2 - int(o[i][0]) for i in (2, 1, 0))  # source (slice, row, column)
    flips = tuple(bool(o[i][1] < 0) for i in (2, 1, 0))
    return (axes[0], axes[1], axes[2]), (flips[0], flips[1], flips[2])


def _reindex(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """``(slices, rows, columns)`` array and its voxel-to-LPS affine."""
    axes, flips = _slice_layout(volume)
    arr = np.transpose(volume.array[0], axes)
    aff = np.asarray(volume.affine, dtype=np.float64)[:, [*axes, 3]].copy()
    for j, flip in enumerate(flips):
        if flip:
            arr = np.flip(arr, axis=j)
            aff[:3, 3] += aff[:3, j] * (arr.shape[j] - 1)
            aff[:3, j] *= -1.0
    return np.ascontiguousarray(arr), _LPS @ aff


def _encode(arr: np.ndarray, modality: str) -> tuple[np.ndarray, float]:
    """int16 stored values and the rescale slope."""
    if modality == "CT":
        return np.clip(np.rint(arr), -32768, 32767).astype(np.int16), 1.0
    top = float(np.abs(arr).max()) if arr.size else 0.0
    slope = top / 32000.0 if top > 0 else 1.0
    return np.clip(np.rint(arr / slope), -32768, 32767).astype(np.int16), slope


def write_dicom_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    description: str,
    derivation: str,
) -> list[Path]:
    """Write ``volume`` as one DICOM file per slice into ``folder`` (created; must be empty).

    Args:
        volume: Single-channel volume (CT in HU).
        folder: Destination folder (the caller makes it atomic).
        description: What medsr did; it extends the source's SeriesDescription (see
            :func:`series_description`).
        derivation: DerivationDescription (which model, which options).

    Returns:
        The written file paths.

    Raises:
        ValueError: For a multi-channel volume.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        CTImageStorage,
        ExplicitVRLittleEndian,
        MRImageStorage,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    if volume.channels != 1:
        raise ValueError(f"DICOM output holds one channel; volume has {volume.channels}")
    sop_class = {"CT": CTImageStorage, "MR": MRImageStorage}.get(
        volume.modality, SecondaryCaptureImageStorage
    )
    arr, lps = _reindex(volume)
    stored, slope = _encode(arr, volume.modality)
    template = _template(volume)
    source = _source_description(volume, template)
    if source:
        derivation = f"{derivation}; source series: {source}"
    series_uid = generate_uid()
    study_uid = generate_uid()
    frame_uid = generate_uid()
    now = datetime.datetime.now()
    col_dir, row_dir, step = lps[:3, 2], lps[:3, 1], lps[:3, 0]
    dc, dr, dz = (float(np.linalg.norm(v)) for v in (col_dir, row_dir, step))
    iop = [*(col_dir / dc), *(row_dir / dr)]
    normal = np.cross(iop[:3], iop[3:])
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(stored.shape[0]):
        fm = FileMetaDataset()
        fm.MediaStorageSOPClassUID = sop_class
        fm.MediaStorageSOPInstanceUID = generate_uid()
        fm.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = fm
        for key in _COPY:
            if template is not None and key in template:
                setattr(ds, key, template.get(key))
        if "StudyInstanceUID" not in ds:
            ds.StudyInstanceUID = study_uid
        if "FrameOfReferenceUID" not in ds:
            ds.FrameOfReferenceUID = frame_uid
        if "PatientID" not in ds:
            ds.PatientName, ds.PatientID = "medsr^output", "medsr"
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.Modality = volume.modality if volume.modality in ("CT", "MR") else "OT"
        ds.SeriesNumber = int(template.get("SeriesNumber", 0) or 0) + 1000 if template else 1000
        ds.SeriesDescription = series_description(source, description)
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.DerivationDescription = derivation[:1024]
        ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
        ds.InstanceNumber = k + 1
        ipp = lps[:3, 3] + step * k
        ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
        ds.SliceLocation = f"{float(normal @ ipp):.6f}"
        ds.PixelSpacing = [f"{dr:.6f}", f"{dc:.6f}"]
        ds.SliceThickness = f"{dz:.6f}"
        ds.SpacingBetweenSlices = f"{dz:.6f}"
        ds.Rows, ds.Columns = (int(n) for n in stored.shape[1:])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", "0"
        ds.RescaleType = "HU" if volume.modality == "CT" else "US"
        ds.PixelData = np.ascontiguousarray(stored[k], dtype="<i2").tobytes()
        path = out / f"IM{k + 1:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
