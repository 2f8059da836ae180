"""The :class:`Volume`: an image array with its physical geometry, modality and unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from medsr.conventions import MODALITIES
from medsr.geometry import affine_from_spacing, rescale_affine, spacing_from_affine


@dataclass(frozen=True)
class Volume:
    """An image with geometry.

    Attributes:
        array: ``(C, D, H, W)`` array (float32 for images). 2D images have ``D == 1``.
        spacing: ``(sd, sh, sw)`` voxel size in mm.
        affine: 4x4 voxel-to-world (RAS+, mm) matrix for index order ``(d, h, w)``.
        modality: ``"MR"``, ``"CT"`` or ``"XR"``.
        unit: Intensity unit, e.g. ``"HU"`` or ``"a.u."``.
        meta: Source metadata (path, reader, original orientation, DICOM tags...).

    Shape:
        array: ``(C, D, H, W)``.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    modality: str = "MR"
    unit: str = "a.u."
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 4:
            raise ValueError(f"Volume.array must be (C, D, H, W), got shape {self.array.shape}")
        if min(self.array.shape) < 1:
            raise ValueError(f"Volume.array has a zero-size axis: {self.array.shape}")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        aff = np.asarray(self.affine, dtype=np.float64)
        if aff.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {aff.shape}")
        object.__setattr__(self, "affine", aff)
        sp = tuple(float(s) for s in self.spacing)
        if len(sp) != 3 or any(not np.isfinite(s) or s <= 0 for s in sp):
            raise ValueError(f"spacing must be three positive numbers, got {self.spacing!r}")
        object.__setattr__(self, "spacing", sp)

    @classmethod
    def from_array(
        cls,
        array: np.ndarray,
        *,
        spacing: Sequence[float] = (1.0, 1.0, 1.0),
        modality: str = "MR",
        unit: str = "a.u.",
        meta: dict[str, Any] | None = None,
    ) -> Volume:
        """Wrap a ``(D, H, W)``, ``(H, W)`` or ``(C, D, H, W)`` array with an axis-aligned affine."""
        a = np.asarray(array)
        if a.ndim == 2:
            a = a[None, None]
        elif a.ndim == 3:
            a = a[None]
        return cls(
            array=a,
            spacing=tuple(spacing),  # type: ignore[arg-type]
            affine=affine_from_spacing(spacing),
            modality=modality,
            unit=unit,
            meta=dict(meta or {}),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial shape ``(D, H, W)``."""
        _, d, h, w = self.array.shape
        return (d, h, w)

    @property
    def channels(self) -> int:
        return int(self.array.shape[0])

    @property
    def is_2d(self) -> bool:
        """True for a single slice (``D == 1``)."""
        return self.array.shape[1] == 1

    @property
    def data(self) -> np.ndarray:
        """The spatial array of a single-channel volume, ``(D, H, W)``."""
        if self.channels != 1:
            raise ValueError(f"volume has {self.channels} channels; index .array instead")
        return self.array[0]

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """Same geometry and metadata, new array of the same spatial shape (and optional field changes)."""
        a = np.asarray(array)
        if a.ndim == 3:
            a = a[None]
        if a.shape[1:] != self.array.shape[1:]:
            raise ValueError(
                f"with_array keeps the grid: expected spatial shape {self.shape}, got {a.shape[1:]}; "
                "use regrid() for a new grid"
            )
        return replace(self, array=a, **changes)

    def regrid(self, array: np.ndarray, **changes: Any) -> Volume:
        """A new array on a grid refined/coarsened over the same field of view.

        The per-axis factor is ``new_shape / old_shape``; spacing and affine follow it so that the
        field-of-view edges keep their world coordinates.
        """
        a = np.asarray(array)
        if a.ndim == 3:
            a = a[None]
        factor = tuple(n / o for n, o in zip(a.shape[1:], self.array.shape[1:], strict=True))
        aff = rescale_affine(self.affine, factor)
        return replace(
            self,
            array=a,
            affine=aff,
            spacing=spacing_from_affine(aff),  # type: ignore[arg-type]
            **changes,
        )

    def check_finite(self, what: str = "volume") -> None:
        """Raise ``ValueError`` when the array holds NaN or Inf."""
        if not np.all(np.isfinite(self.array)):
            n = int(np.size(self.array) - np.count_nonzero(np.isfinite(self.array)))
            raise ValueError(f"{what} has {n} NaN/Inf voxels")
