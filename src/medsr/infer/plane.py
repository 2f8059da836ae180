"""The plane a 2D model runs in by default: the one the scan was acquired in.

A 2D model sees slices; on a volume it should see the acquired slices, not whatever plane the
canonical ``(D, H, W)`` order puts first. The slice axis is found from what the reader recorded:

* DICOM series: the series' slice normal (``meta["dicom_ornt"]`` says which canonical axis the
  file's slice index became), so a sagittal series runs sagittal slices;
* NIfTI whose header records the slice axis (``dim_info``: ``meta["nifti_slice_dim"]``, a file
  axis, mapped through ``meta["nifti_ornt"]`` to the canonical axis it became);
* any other volume (NIfTI without it, NPY, ...): the coarsest axis when one is clearly coarser
  (thick slices), else ``D`` (axial after reorientation), as before.

Canonical axes: ``D`` runs inferior-superior (axial slices), ``H`` posterior-anterior (coronal),
``W`` left-right (sagittal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr.volume import Volume

PLANES: dict[int, str] = {0: "axial", 1: "coronal", 2: "sagittal"}
_AXIS_NAMES = ("D", "H", "W")

#: An axis counts as the slice axis of a non-DICOM volume when its spacing exceeds the next
#: coarsest axis' by this factor.
COARSER = 1.2


@dataclass(frozen=True)
class SlicePlane:
    """The slice axis a 2D model runs along, and why.

    Attributes:
        axis: Slice axis of the volume, ``0`` (D), ``1`` (H) or ``2`` (W).
        source: How it was chosen: ``"--axis"``, ``"DICOM slice normal"``,
            ``"NIfTI slice_dim"``, ``"coarsest axis"``, ``"default"`` (isotropic volume) or
            ``"2D image"``.
    """

    axis: int
    source: str

    @property
    def plane(self) -> str:
        """Name of the plane of the slices the model sees (axial, coronal or sagittal)."""
        return PLANES[self.axis]

    def describe(self) -> str:
        """One line for the user, e.g. ``sagittal slices (axis 2, W; DICOM slice normal)``."""
        return f"{self.plane} slices (axis {self.axis}, {_AXIS_NAMES[self.axis]}; {self.source})"

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for the sidecar."""
        return {"axis": self.axis, "plane": self.plane, "source": self.source}


def acquired_plane(volume: Volume) -> SlicePlane:
    """The slice axis the scan was acquired along (see the module docstring).

    Args:
        volume: A volume as the readers return it.

    Returns:
        The plane and how it was found.
    """
    if volume.is_2d:
        return SlicePlane(0, "2D image")
    ornt = volume.meta.get("dicom_ornt")
    if volume.meta.get("reader") == "dicom_series" and ornt is not None:
        slice_index_to = int(np.asarray(ornt)[2][0])  # canonical (x, y, z) axis of the slices
        return SlicePlane(2 - slice_index_to, "DICOM slice normal")
    nifti_ornt, slice_dim = volume.meta.get("nifti_ornt"), volume.meta.get("nifti_slice_dim")
    if volume.meta.get("reader") == "nifti" and nifti_ornt is not None and slice_dim is not None:
        canonical = int(np.asarray(nifti_ornt)[int(slice_dim)][0])  # RAS axis of the file axis
        return SlicePlane(2 - canonical, "NIfTI slice_dim")
    spacing = np.asarray(volume.spacing, dtype=np.float64)
    order = np.argsort(spacing)
    if spacing[order[2]] > COARSER * spacing[order[1]]:
        return SlicePlane(int(order[2]), "coarsest axis")
    return SlicePlane(0, "default")


def chosen_plane(volume: Volume, axis: int | None) -> SlicePlane:
    """``axis`` when given (``--axis``), else the acquired plane."""
    if axis is not None:
        return SlicePlane(int(axis), "--axis")
    return acquired_plane(volume)
