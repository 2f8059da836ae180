"""Read a DICOM series straight from a zip archive (members are read in memory, nothing extracted)."""

from __future__ import annotations

import io
import os
import zipfile

from medsr.errors import InputError
from medsr.io._common import check_file
from medsr.io.dicom import _dcmread, assemble_series, image_datasets
from medsr.volume import Volume


def read_dicom_zip(
    path: str | os.PathLike[str],
    *,
    modality: str | None = None,
    allow_nonfinite: bool = False,
    slice_tolerance: float | None = None,
) -> Volume:
    """Read the one DICOM series held in a zip file.

    Args:
        path: The ``.zip`` archive; folders inside it are flattened.
        modality: Override of the ``Modality`` tag.
        allow_nonfinite: Keep NaN/Inf values.
        slice_tolerance: Accepted deviation (mm) of a slice gap from the mean spacing.

    Returns:
        The series as a volume (see :func:`medsr.io.dicom.read_dicom_series`).

    Raises:
        InputError: For a bad archive, no DICOM members, several series, a slice without pixel
            data or a missing slice.

    Shape:
        array: ``(1, D, H, W)``.
    """
    p = check_file(path)
    datasets = []
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if info.is_dir() or info.file_size == 0:
                    continue
                ds = _dcmread(io.BytesIO(zf.read(info)))
                if ds is not None:
                    datasets.append((info.filename, ds))
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(p, f"not a readable zip archive ({exc})") from None
    datasets = image_datasets(datasets, p)
    if not datasets:
        raise InputError(p, "zip archive holds no DICOM image files")
    return assemble_series(
        datasets,
        p,
        modality=modality,
        allow_nonfinite=allow_nonfinite,
        slice_tolerance=slice_tolerance,
    )
