"""Write small synthetic DICOM series with known geometry and rescaling (test helper)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def make_slice(
    stored: np.ndarray,
    *,
    ipp: Sequence[float],
    iop: Sequence[float],
    pixel_spacing: Sequence[float],
    series_uid: str,
    modality: str = "CT",
    slope: float = 1.0,
    intercept: float = 0.0,
    instance: int = 1,
    ipp_decimals: int = 6,
):
    """A pydicom Dataset holding one int16 slice ``stored`` (rows, cols); positions are written
    with ``ipp_decimals`` decimal places (scanners often round to 0.1 mm)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.{ipp_decimals}f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
    ds.PixelSpacing = [f"{v:.6f}" for v in pixel_spacing]
    ds.SliceThickness = "2.5"
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    ds.Rows, ds.Columns = (int(n) for n in stored.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.ascontiguousarray(stored, dtype="<i2").tobytes()
    return ds


def write_series(
    folder: Path,
    stored: np.ndarray,
    *,
    ipp0: Sequence[float],
    iop: Sequence[float],
    pixel_spacing: Sequence[float],
    step: Sequence[float],
    series_uid: str,
    rng: np.random.Generator,
    slope: float = 1.0,
    intercept: float = 0.0,
    ipp_decimals: int = 6,
    first_instance: int | None = None,
    drop: Sequence[int] = (),
    without_pixels: Sequence[int] = (),
) -> list[Path]:
    """Write slices ``stored[k]`` at ``ipp0 + k * step`` (LPS mm) under shuffled file names.

    InstanceNumber is ``first_instance + k`` (random when None); slices ``drop`` are not written,
    slices ``without_pixels`` are written without their PixelData element.
    """
    folder.mkdir(parents=True, exist_ok=True)
    order = rng.permutation(stored.shape[0])
    paths = []
    for name_index, k in enumerate(order):
        if k in drop:
            continue
        ipp = np.asarray(ipp0, dtype=float) + k * np.asarray(step, dtype=float)
        instance = int(rng.integers(1, 1000)) if first_instance is None else first_instance + int(k)
        ds = make_slice(
            stored[k], ipp=ipp, iop=iop, pixel_spacing=pixel_spacing, series_uid=series_uid,
            slope=slope, intercept=intercept, instance=instance, ipp_decimals=ipp_decimals,
        )  # fmt: skip
        if k in without_pixels:
            del ds.PixelData
        path = folder / f"IM{name_index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
