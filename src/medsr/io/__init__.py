"""Readers and writers: NIfTI, DICOM (file, series folder, zip), NPY/NPZ and paired-CT dicts,
PNG/JPEG/TIFF, fastMRI HDF5 -> :class:`~medsr.data.Volume`; NIfTI / NPY / PNG writers that keep
the geometry. Format-specific modules import their heavy dependencies only when used.
"""

from medsr.io.arrays import read_array, read_paired_ct
from medsr.io.dispatch import READ_FORMATS, WRITE_FORMATS, read_volume, write_volume
from medsr.io.sidecar import sidecar_path, write_json_sidecar

__all__ = [
    "READ_FORMATS",
    "WRITE_FORMATS",
    "read_array",
    "read_paired_ct",
    "read_volume",
    "sidecar_path",
    "write_json_sidecar",
    "write_volume",
]
