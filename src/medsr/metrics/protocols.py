"""Named evaluation protocols: each one fixes range, mask, crop and clipping.

A protocol turns a ``(pred, ref)`` pair into metrics in five documented steps:

1. drop singleton axes (a ``(1, 1, H, W)`` volume becomes a 2D image; SSIM is 2D for a single
   slice and 3D otherwise);
2. remove ``crop`` voxels from both ends of every axis;
3. add ``offset`` and clip to ``clip`` (both images);
4. optionally min-max normalise both images with the *reference's* minimum and maximum;
5. compute the mask (from the reference) and the data range, then PSNR, SSIM, NRMSE and MAE.

See ``docs/protocols.md`` for why each protocol makes the choices it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from medsr.metrics.functional import hfen, mae, nrmse, psnr, ssim
from medsr.metrics.masks import foreground_mask
from medsr.metrics.tissue import CT_TISSUE_CLASSES, tissue_hu_shift
from medsr.metrics.tissue_dice import (
    BRAIN_TISSUES,
    DEFAULT_BETA,
    DEFAULT_BINS,
    DEFAULT_ITERATIONS,
    tissue_dice,
)
from medsr.registry import Registry

RangeRule = Literal["fixed", "ref-max", "first-max", "ref-span-in-mask"]


@dataclass(frozen=True)
class Prepared:
    """Images, mask and range exactly as the metrics see them."""

    pred: np.ndarray
    ref: np.ndarray
    mask: np.ndarray | None
    data_range: float


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol.

    Attributes:
        name: Registry key.
        description: One line shown by the CLI and the docs.
        range_rule: ``"fixed"`` (use ``fixed_range``), ``"ref-max"`` (maximum of the reference),
            ``"first-max"`` (maximum of the first argument, the prediction),
            ``"ref-span-in-mask"`` (max - min of the reference inside the mask).
        fixed_range: The range for ``range_rule="fixed"``.
        offset: Added to both images before clipping (e.g. 1024 to go from HU to HU + 1024).
        clip: ``(low, high)`` applied to both images after the offset, or None.
        normalize: ``"ref-minmax"`` maps both images by ``(x - min(ref)) / (max(ref) - min(ref))``.
        mask: ``"foreground"`` restricts every metric to :func:`foreground_mask` of the reference.
        crop: Voxels removed from both ends of every axis before anything else.
    """

    name: str
    description: str
    range_rule: RangeRule
    fixed_range: float | None = None
    offset: float = 0.0
    clip: tuple[float, float] | None = None
    normalize: Literal["none", "ref-minmax"] = "none"
    mask: Literal["none", "foreground"] = "none"
    crop: int = 0

    def __post_init__(self) -> None:
        if (self.range_rule == "fixed") != (self.fixed_range is not None):
            raise ValueError("fixed_range must be given exactly when range_rule is 'fixed'")
        if self.range_rule == "ref-span-in-mask" and self.mask == "none":
            raise ValueError("range_rule 'ref-span-in-mask' needs a mask")
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip must be (low, high) with low < high, got {self.clip!r}")
        if self.crop < 0:
            raise ValueError(f"crop must be >= 0, got {self.crop}")

    def prepare(
        self, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None
    ) -> Prepared:
        """Apply steps 1-5 of the module docstring without computing metrics.

        Args:
            pred: Prediction, ``(H, W)``, ``(D, H, W)`` or ``(1, D, H, W)``.
            ref: Reference of the same shape.
            mask: A mask of the reference's shape (non-zero = evaluated) that replaces the
                reference's foreground in a protocol that masks (``mask="foreground"``), e.g. a
                brain mask from a skull stripper on a whole-head scan; ignored by a protocol
                without a mask.

        Returns:
            The transformed float64 images, the mask (or None) and the data range.

        Raises:
            ValueError: On a shape mismatch, non-finite values, a degenerate reference
                (constant, or no foreground), an empty mask or a non-positive range.
        """
        p = np.asarray(pred, dtype=np.float64)
        r = np.asarray(ref, dtype=np.float64)
        if p.shape != r.shape:
            raise ValueError(f"prediction shape {p.shape} differs from reference shape {r.shape}")
        given = None
        if mask is not None and self.mask != "none":
            given = np.asarray(mask)
            if given.shape != r.shape:
                raise ValueError(f"mask shape {given.shape} differs from reference shape {r.shape}")
            given = np.squeeze(given != 0)
            if not given.any():
                raise ValueError("the mask is empty")
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(r))):
            raise ValueError("prediction or reference holds NaN/Inf values")
        p, r = np.squeeze(p), np.squeeze(r)
        if p.ndim not in (2, 3):
            raise ValueError(f"protocols evaluate 2D or 3D images; got shape {np.shape(pred)}")
        if self.crop:
            if min(p.shape) <= 2 * self.crop:
                raise ValueError(f"crop {self.crop} removes all of shape {p.shape}")
            window = tuple(slice(self.crop, n - self.crop) for n in p.shape)
            p, r = p[window], r[window]
            given = given[window] if given is not None else None
        if self.offset:
            p, r = p + self.offset, r + self.offset
        if self.clip is not None:
            p, r = np.clip(p, *self.clip), np.clip(r, *self.clip)
        if self.normalize == "ref-minmax":
            lo, hi = float(r.min()), float(r.max())
            if hi <= lo:
                raise ValueError("reference is constant; it cannot be min-max normalised")
            p, r = (p - lo) / (hi - lo), (r - lo) / (hi - lo)
        m = None
        if self.mask == "foreground":
            m = given if given is not None else foreground_mask(r)
        return Prepared(pred=p, ref=r, mask=m, data_range=self._range(p, r, m))

    def _range(self, p: np.ndarray, r: np.ndarray, m: np.ndarray | None) -> float:
        if self.range_rule == "fixed":
            value = float(self.fixed_range)  # type: ignore[arg-type]
        elif self.range_rule == "ref-max":
            value = float(r.max())
        elif self.range_rule == "first-max":
            value = float(p.max())
        else:
            inside = r[m]
            value = float(inside.max() - inside.min())
        if value <= 0:
            raise ValueError(
                f"protocol {self.name!r} derived a non-positive data range ({value:g}) "
                f"with rule {self.range_rule!r}"
            )
        return value

    def evaluate(
        self, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None
    ) -> dict[str, float]:
        """PSNR (dB), SSIM, NRMSE, MAE and HFEN of ``pred`` against ``ref`` under this protocol.

        Args:
            pred: Prediction, ``(H, W)``, ``(D, H, W)`` or ``(1, D, H, W)``.
            ref: Reference of the same shape.
            mask: Replaces the reference's foreground mask; see :meth:`prepare`.

        Returns:
            ``{"psnr", "ssim", "nrmse", "mae", "hfen"}``; MAE is in the protocol's
            transformed unit (HU for ``ct-window``, [0, 1] units for ``unit-range``...).

        Raises:
            ValueError: See :meth:`prepare`; also when an axis is shorter than SSIM's 11 taps.
        """
        d = self.prepare(pred, ref, mask)
        return {
            "psnr": psnr(d.pred, d.ref, data_range=d.data_range, mask=d.mask),
            "ssim": ssim(d.pred, d.ref, data_range=d.data_range, mask=d.mask),
            "nrmse": nrmse(d.pred, d.ref, mask=d.mask),
            "mae": mae(d.pred, d.ref, mask=d.mask),
            "hfen": hfen(d.pred, d.ref, mask=d.mask),
        }


@dataclass(frozen=True)
class TissueHUProtocol(Protocol):
    """Quantitative CT: mean HU per tissue class of the reference, candidate minus reference.

    Steps 1-3 of the module docstring (squeeze, crop, offset / clip: none by default), then
    :func:`~medsr.metrics.tissue.tissue_hu_shift` instead of the image-quality metrics, so the
    range fields are unused. Not a validation protocol (it yields no PSNR).

    Attributes:
        classes: ``(name, low, high)`` HU thresholds on the reference.
        erosion: In-plane erosions of each class mask.
        smooth: In-plane Gaussian sigma (voxels) of the thresholded copy of the reference.
        min_voxels: Smaller classes are not reported.
    """

    range_rule: RangeRule = "fixed"
    fixed_range: float | None = 1.0
    classes: tuple[tuple[str, float, float], ...] = CT_TISSUE_CLASSES
    erosion: int = 1
    smooth: float = 1.0
    min_voxels: int = 20

    def evaluate(
        self, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None
    ) -> dict[str, float]:
        """``{c}_ref`` / ``{c}_shift`` per class and ``contrast_ref`` / ``contrast_change``
        (fat-muscle), all in HU; see :func:`~medsr.metrics.tissue.tissue_hu_shift`.

        Raises:
            ValueError: See :meth:`Protocol.prepare`; also when no class is found.
        """
        d = self.prepare(pred, ref, mask)
        return tissue_hu_shift(
            d.pred,
            d.ref,
            classes=self.classes,
            erosion=self.erosion,
            smooth=self.smooth,
            min_voxels=self.min_voxels,
        )


@dataclass(frozen=True)
class TissueDiceProtocol(Protocol):
    """Brain MRI segmentation task: Dice of CSF, GM and WM labels, candidate against reference.

    Steps 1-3 of the module docstring and the reference's foreground mask (as ``brain-mask``),
    (the whole image with ``mask="none"``), then :func:`~medsr.metrics.tissue_dice.tissue_dice`: a Gaussian mixture on intensity fitted
    once on the reference labels both images, with a Potts MRF (ICM) on top. The range fields
    are unused. Not a validation protocol (it yields no PSNR).

    Attributes:
        classes: Class names by increasing mean intensity (T1: CSF < GM < WM).
        beta: Potts weight per agreeing face neighbour.
        iterations: ICM sweeps at most.
        bins: Histogram bins of the EM fit.
    """

    range_rule: RangeRule = "fixed"
    fixed_range: float | None = 1.0
    mask: Literal["none", "foreground"] = "foreground"
    classes: tuple[str, ...] = BRAIN_TISSUES
    beta: float = DEFAULT_BETA
    iterations: int = DEFAULT_ITERATIONS
    bins: int = DEFAULT_BINS

    def evaluate(
        self, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None
    ) -> dict[str, float]:
        """``dice_{c}`` per class (``dice_csf``, ``dice_gm``, ``dice_wm``) and ``dice_mean``;
        see :func:`~medsr.metrics.tissue_dice.tissue_dice`.

        Raises:
            ValueError: See :meth:`Protocol.prepare`; also when the reference has fewer
                distinct intensities inside the mask than classes.
        """
        d = self.prepare(pred, ref, mask)
        mask = d.mask if d.mask is not None else np.ones(d.ref.shape, dtype=bool)
        return tissue_dice(
            d.pred,
            d.ref,
            mask,
            classes=self.classes,
            beta=self.beta,
            iterations=self.iterations,
            bins=self.bins,
        )


PROTOCOLS: Registry[Protocol] = Registry("protocol")


def _add(protocol: Protocol) -> None:
    PROTOCOLS.register(protocol.name, protocol)


_add(
    Protocol(
        name="unit-range",
        description="both images mapped by the reference's min/max to [0, 1]; range 1",
        range_rule="fixed",
        fixed_range=1.0,
        normalize="ref-minmax",
    )
)
_add(
    Protocol(
        name="fastmri",
        description="raw intensities; range = reference volume maximum",
        range_rule="ref-max",
    )
)
_add(
    Protocol(
        name="ct-window",
        description="HU clipped to [-160, 240] (abdomen window); range 400",
        range_rule="fixed",
        fixed_range=400.0,
        clip=(-160.0, 240.0),
    )
)
_add(
    Protocol(
        name="ldct-bench",
        description="HU + 1024 clipped to [0, 2924]; range 2924",
        range_rule="fixed",
        fixed_range=2924.0,
        offset=1024.0,
        clip=(0.0, 2924.0),
    )
)
_add(
    Protocol(
        name="brain-mask",
        description="inside the reference's foreground mask; range = reference max - min there",
        range_rule="ref-span-in-mask",
        mask="foreground",
    )
)
_add(
    Protocol(
        name="dfgan-original",
        description="raw HU; range = max of the first argument (the prediction); "
        "only to reproduce DFGAN's numbers, not recommended",
        range_rule="first-max",
    )
)


_add(
    TissueHUProtocol(
        name="ct-tissue-hu",
        description="mean HU in fat (-150..-50), muscle (20..80) and bone (> 300) of the "
        "reference, eroded: candidate minus reference, and the fat-muscle contrast change",
    )
)
_add(
    TissueDiceProtocol(
        name="tissue-dice",
        description="brain T1: Dice of CSF, GM and WM inside the reference's foreground; one "
        "3-class intensity mixture fitted on the reference labels both, with a Potts MRF",
    )
)


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``.

    Raises:
        KeyError: With the closest names when ``name`` is unknown.
    """
    return PROTOCOLS.get(name)
