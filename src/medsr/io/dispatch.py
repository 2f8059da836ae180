"""One entry point per direction: :func:`read_volume` and :func:`write_volume`, chosen by extension."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from medsr.conventions import MODALITIES
from medsr.errors import InputError
from medsr.io.atomic import atomic_path
from medsr.volume import Volume

#: Extensions :func:`read_volume` understands (a folder is read as a DICOM series).
READ_FORMATS: dict[str, str] = {
    ".nii": "NIfTI",
    ".nii.gz": "NIfTI",
    ".dcm": "DICOM file",
    ".dicom": "DICOM file",
    ".ima": "DICOM file",
    ".npy": "NumPy array / paired-CT dict",
    ".npz": "NumPy arrays",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
    ".h5": "fastMRI HDF5",
    ".hdf5": "fastMRI HDF5",
    ".inv3": "InVesalius project",
    ".zip": "zipped DICOM series",
}

#: Extensions :func:`write_volume` understands.
WRITE_FORMATS: tuple[str, ...] = (".nii", ".nii.gz", ".npy", ".png")


def extension(path: str | os.PathLike[str]) -> str:
    """Lower-case extension, with ``.nii.gz`` as one extension."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def _supported() -> str:
    return ", ".join(sorted(set(READ_FORMATS))) + ", or a DICOM series folder"


def read_volume(
    path: str | os.PathLike[str],
    *,
    modality: str | None = None,
    key: str | None = None,
    allow_nonfinite: bool = False,
    slice_tolerance: float | None = None,
) -> Volume:
    """Read any supported file (or DICOM series folder) as a :class:`~medsr.data.Volume`.

    Args:
        path: File or folder. Files without an extension are tried as DICOM.
        modality: ``"MR"``, ``"CT"`` or ``"XR"``; overrides the file's (DICOM) or the default (MR).
        key: Dataset / array name for HDF5 and NPZ files.
        allow_nonfinite: Keep NaN/Inf voxels instead of refusing the file.
        slice_tolerance: DICOM series (folder or zip): accepted deviation (mm) of a slice gap from
            the mean spacing; default: what the rounding of the written positions explains.

    Returns:
        Float32 volume with spacing, RAS+ affine, modality and unit; ``meta`` has ``path`` and
        ``reader``.

    Raises:
        InputError: For a missing, unsupported or bad input; the message names the file.

    Shape:
        array: ``(C, D, H, W)``; 2D inputs give ``D == 1``.
    """
    p = Path(path)
    if modality is not None and modality not in MODALITIES:
        raise InputError(p, f"modality must be one of {MODALITIES}, got {modality!r}")
    if p.is_dir():
        from medsr.io.dicom import read_dicom_series

        return read_dicom_series(
            p, modality=modality, allow_nonfinite=allow_nonfinite, slice_tolerance=slice_tolerance
        )
    if not p.exists():
        raise InputError(p, "no such file or folder")
    ext = extension(p)
    kinds = {"modality": modality, "allow_nonfinite": allow_nonfinite}
    if ext in (".nii", ".nii.gz"):
        from medsr.io.nifti import read_nifti

        return read_nifti(p, **kinds)  # type: ignore[arg-type]
    if ext in (".dcm", ".dicom", ".ima", ""):
        from medsr.io.dicom import read_dicom_file

        return read_dicom_file(p, **kinds)  # type: ignore[arg-type]
    if ext in (".npy", ".npz"):
        from medsr.io.arrays import read_array

        return read_array(p, key=key, **kinds)  # type: ignore[arg-type]
    if ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        from medsr.io.images import read_image

        return read_image(p, **kinds)  # type: ignore[arg-type]
    if ext in (".h5", ".hdf5"):
        from medsr.io.hdf5 import read_fastmri

        return read_fastmri(p, key=key, allow_nonfinite=allow_nonfinite)
    if ext == ".inv3":
        from medsr.io.inv3 import read_inv3

        return read_inv3(p)
    if ext == ".zip":
        from medsr.io.dicom_zip import read_dicom_zip

        return read_dicom_zip(p, slice_tolerance=slice_tolerance, **kinds)  # type: ignore[arg-type]
    raise InputError(
        p, f"unsupported format {ext or '(no extension)'!r}; supported: {_supported()}"
    )


def write_volume(
    volume: Volume,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    description: str | None = None,
    png_bits: int = 8,
) -> Path:
    """Write ``volume`` atomically; the format follows the extension.

    NIfTI keeps the affine (and the original voxel order of a NIfTI source), NPY stores the
    array without geometry (:func:`npy_layout`: ``(D, H, W)`` for one channel), PNG stores one
    2D slice.

    Args:
        volume: The volume to write.
        path: ``.nii``, ``.nii.gz``, ``.npy`` or ``.png``.
        overwrite: Replace an existing file.
        description: NIfTI header description.
        png_bits: 8 or 16 for PNG output.

    Returns:
        The written path.

    Raises:
        InputError: For an unsupported extension or a volume the format cannot hold.
        MedsrError: If the file exists and ``overwrite`` is False.
    """
    p = Path(path)
    ext = extension(p)
    if ext not in WRITE_FORMATS:
        raise InputError(
            p, f"cannot write {ext or '(no extension)'!r}; use one of {list(WRITE_FORMATS)}"
        )
    if ext == ".png" and (volume.channels != 1 or not volume.is_2d):
        raise InputError(p, f"PNG holds one 2D slice; volume has shape {volume.array.shape}")
    with atomic_path(p, overwrite=overwrite) as tmp:
        write_image_file(volume, tmp, ext, description=description, png_bits=png_bits)
    return p


def npy_layout(volume: Volume) -> tuple[str, ...]:
    """The axes of the array an NPY output holds: one channel drops ``C`` (and ``D`` of a 2D
    image), so a ``(D, H, W)`` input file gives a ``(D, H, W)`` output; several channels keep
    ``(C, D, H, W)``."""
    if volume.channels != 1:
        return ("C", "D", "H", "W")
    return ("H", "W") if volume.is_2d else ("D", "H", "W")


def write_image_file(
    volume: Volume,
    path: Path,
    ext: str,
    *,
    description: str | None = None,
    png_bits: int = 8,
    png_range: Sequence[float] | None = None,
) -> None:
    """Write ``volume`` to ``path`` as ``ext`` (not atomic: the callers write a temporary file).

    The one writer of image files behind ``enhance``, ``degrade``, ``baseline`` and
    :func:`write_volume`: NIfTI with its affine, NPY in :func:`npy_layout` (float32), PNG one 2D
    slice (``png_bits`` 8 or 16, values mapped from ``png_range``, default min..max).
    """
    if ext in (".nii", ".nii.gz"):
        from medsr.io.nifti import write_nifti

        write_nifti(volume, path, description=description)
    elif ext == ".npy":
        import numpy as np

        arr = volume.array
        if volume.channels == 1:
            arr = arr[0, 0] if volume.is_2d else arr[0]
        with open(path, "wb") as f:
            np.save(f, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    else:
        from medsr.io.images import write_png

        write_png(volume, path, bits=png_bits, value_range=png_range)
