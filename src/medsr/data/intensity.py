"""Intensity normalisation between scanner units and the network's range, and back.

A normaliser is recorded in every checkpoint (``to_dict``) so ``medsr enhance`` applies exactly
the mapping the model was trained with and returns outputs in the input's units.

* ``hu-window`` (CT): ``unit = (HU - lo) / (hi - lo)``, a fixed window in Hounsfield units; not
  clipped (clipping would destroy values outside the window on the way back).
* ``percentile`` (MRI magnitude): per volume, ``unit = x / p`` with ``p`` the ``q``-th percentile
  of the non-zero voxels; the per-volume ``p`` is returned as state and undone before metrics.
* ``minmax`` (MRI): per volume, ``unit = (x - min) / (max - min)``.
* ``minmax-symmetric``: per volume, ``unit = 2 (x - min) / (max - min) - 1``, in [-1, 1] (for
  tanh outputs, as the x3 SRGAN of the brain-MRI / chest X-ray report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

NormKind = Literal["hu-window", "percentile", "minmax", "minmax-symmetric"]

#: CT: HU below this are outside-FOV padding, not tissue or noise: air is -1000 HU and the
#: simulated quarter-dose noise of the training-side slices reaches -1685 at its lowest (0.01 %
#: of pixels below -1500), while scanners pad with -2000, -2048, -3024 or less.
HU_PADDING = -1800.0
#: CT: the network never sees less than this (int16 minima such as -32768 are raised to it).
HU_FLOOR = -3072.0


def hu_to_unit(hu: np.ndarray, *, lo: float = -1024.0, hi: float = 3072.0) -> np.ndarray:
    """Map HU linearly so that ``lo -> 0`` and ``hi -> 1`` (no clipping)."""
    return ((np.asarray(hu, dtype=np.float32) - lo) / (hi - lo)).astype(np.float32)


def unit_to_hu(unit: np.ndarray, *, lo: float = -1024.0, hi: float = 3072.0) -> np.ndarray:
    """Inverse of :func:`hu_to_unit`."""
    return (np.asarray(unit, dtype=np.float32) * (hi - lo) + lo).astype(np.float32)


@dataclass(frozen=True)
class IntensityNorm:
    """A recorded intensity mapping.

    Args:
        kind: ``hu-window``, ``percentile``, ``minmax`` or ``minmax-symmetric``.
        lo: Lower HU bound (``hu-window``).
        hi: Upper HU bound (``hu-window``).
        q: Percentile in (0, 100] (``percentile``).
    """

    kind: NormKind = "percentile"
    lo: float = -1024.0
    hi: float = 3072.0
    q: float = 99.5

    def __post_init__(self) -> None:
        if self.kind not in ("hu-window", "percentile", "minmax", "minmax-symmetric"):
            raise ValueError(
                f"unknown intensity normalisation {self.kind!r}; use hu-window, percentile, "
                "minmax or minmax-symmetric"
            )
        if self.kind == "hu-window" and not self.hi > self.lo:
            raise ValueError(f"hu-window needs hi > lo, got lo={self.lo}, hi={self.hi}")
        if self.kind == "percentile" and not 0 < self.q <= 100:
            raise ValueError(f"percentile q must be in (0, 100], got {self.q}")

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Scanner units -> network units; returns the array and the per-volume state
        (:meth:`state_of`, then :meth:`apply`)."""
        state = self.state_of(x)
        return self.apply(x, state), state

    def state_of(self, x: np.ndarray) -> dict[str, float]:
        """The per-volume state of ``x`` (``offset`` and ``scale``; empty for ``hu-window``)."""
        a = np.asarray(x, dtype=np.float32)
        if self.kind == "hu-window":
            return {}
        if self.kind == "percentile":
            nz = a[a > 0]
            p = float(np.percentile(nz, self.q)) if nz.size else 1.0
            return {"offset": 0.0, "scale": p if p > 0 else 1.0}
        lo, hi = float(a.min()), float(a.max())
        span = hi - lo if hi > lo else 1.0
        if self.kind == "minmax-symmetric":  # (x - centre) / half-span, so inverse() is shared
            return {"offset": lo + 0.5 * span, "scale": 0.5 * span}
        return {"offset": lo, "scale": span}

    def apply(self, x: np.ndarray, state: dict[str, float]) -> np.ndarray:
        """Scanner units -> network units with a given state: the one mapping of training,
        validation and inference (inverse of :meth:`inverse`)."""
        a = np.asarray(x, dtype=np.float32)
        if self.kind == "hu-window":
            return hu_to_unit(a, lo=self.lo, hi=self.hi)
        return ((a - state["offset"]) / state["scale"]).astype(np.float32)

    def inverse(self, y: np.ndarray, state: dict[str, float]) -> np.ndarray:
        """Network units -> scanner units, given the state :meth:`forward` returned."""
        a = np.asarray(y, dtype=np.float32)
        if self.kind == "hu-window":
            return unit_to_hu(a, lo=self.lo, hi=self.hi)
        return (a * state["scale"] + state["offset"]).astype(np.float32)

    def clip_for_network(self, unit: np.ndarray) -> np.ndarray:
        """For ``hu-window``: bound network units in place to what training shows the network;
        other kinds are returned unchanged.

        Above the window (metal) is clipped to ``hi``. Below, only HU under :data:`HU_FLOOR`
        (int16 minima and other extreme padding) are raised to it: the noise of a low-dose scan
        takes air well below -1024 HU, and training inputs (simulated low-dose slices) keep it,
        so clipping at ``lo`` would show the network a half-rectified air it never saw (measured
        on the training-side CT slices: +8 to +27 HU of bias in air and 0.3-2.4 dB of whole-range
        PSNR lost). The usual outside-FOV padding (-2000 to -3024 HU) is in the training inputs
        too, and passes unchanged.
        """
        if self.kind == "hu-window":
            floor = min(0.0, (HU_FLOOR - self.lo) / (self.hi - self.lo))
            np.clip(unit, floor, 1.0, out=unit)
        return unit

    def pass_outside_window(self, out: np.ndarray, original: np.ndarray) -> int:
        """For ``hu-window`` on the same grid: copy the HU no tissue has (outside-FOV padding,
        below :data:`HU_PADDING`; metal, above ``hi``) from ``original`` into ``out`` in place;
        returns the count. Noisy air between :data:`HU_PADDING` and ``lo`` is the network's.
        """
        if self.kind != "hu-window" or out.shape != original.shape:
            return 0
        outside = (original < min(HU_PADDING, self.lo)) | (original > self.hi)
        count = int(outside.sum())
        if count:
            out[outside] = original[outside]
        return count

    def to_dict(self) -> dict[str, Any]:
        """The kind and the fields it uses (``lo``/``hi`` for ``hu-window``, ``q`` for
        ``percentile``): an MRI model's sidecar shows no CT window."""
        used = {"hu-window": ("lo", "hi"), "percentile": ("q",)}.get(self.kind, ())
        return {"kind": self.kind, **{k: getattr(self, k) for k in used}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntensityNorm:
        unknown = set(data) - {"kind", "lo", "hi", "q"}
        if unknown:
            raise ValueError(f"unknown intensity normalisation fields {sorted(unknown)}")
        return cls(**data)
