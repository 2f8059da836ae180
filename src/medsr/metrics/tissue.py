"""Quantitative CT: does a denoiser keep tissue values? Mean HU per tissue class, candidate
against reference.

A CT denoiser must not move tissue values: a fat or muscle mean that drifts by tens of HU changes
what a radiologist reads (fat is about -100 HU, muscle and blood 40-60 HU, bone several hundred).
The classes are found on the *reference* by HU thresholds (after an in-plane Gaussian smoothing
that keeps its noise from scattering voxels across the thresholds), eroded in-plane so partial-
volume voxels at the class borders are left out; both images are then averaged, unsmoothed, over
the same voxels. Reported per class: the shift ``mean(candidate) - mean(reference)``; and the
fat-muscle contrast ``mean(muscle) - mean(fat)`` of the reference with its change in the
candidate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

#: ``(name, low, high)`` HU thresholds on the (smoothed) reference; bounds included.
CT_TISSUE_CLASSES: tuple[tuple[str, float, float], ...] = (
    ("fat", -150.0, -50.0),
    ("muscle", 20.0, 80.0),
    ("bone", 300.0, math.inf),
)


def tissue_masks(
    ref: np.ndarray,
    *,
    classes: tuple[tuple[str, float, float], ...] = CT_TISSUE_CLASSES,
    erosion: int = 1,
    smooth: float = 1.0,
) -> dict[str, np.ndarray]:
    """Class masks of a CT reference in HU.

    Args:
        ref: ``(H, W)`` or ``(D, H, W)`` reference in HU (slices along the first axis).
        classes: ``(name, low, high)`` HU ranges, bounds included.
        erosion: In-plane binary erosions (3x3 cross) of every class mask; 0 keeps them as they
            are.
        smooth: In-plane Gaussian sigma in voxels of the copy of ``ref`` that is thresholded;
            0 thresholds ``ref`` itself.

    Returns:
        One boolean mask of ``ref``'s shape per class name (possibly empty).

    Raises:
        ValueError: On a bad array rank or argument.
    """
    r = np.asarray(ref, dtype=np.float64)
    if r.ndim not in (2, 3):
        raise ValueError(f"expected a 2D or 3D reference, got shape {r.shape}")
    if erosion < 0 or smooth < 0:
        raise ValueError(f"erosion and smooth must be >= 0, got {erosion} and {smooth}")
    in_plane = (0.0, smooth, smooth) if r.ndim == 3 else smooth
    seen = ndimage.gaussian_filter(r, in_plane, mode="nearest") if smooth > 0 else r
    cross = ndimage.generate_binary_structure(2, 1)
    structure = cross[None] if r.ndim == 3 else cross
    masks = {}
    for name, low, high in classes:
        if not low < high:
            raise ValueError(f"class {name!r}: need low < high, got ({low}, {high})")
        mask = (seen >= low) & (seen <= high)
        if erosion:
            mask = ndimage.binary_erosion(mask, structure, iterations=erosion, border_value=0)
        masks[name] = np.asarray(mask, dtype=bool)
    return masks


def tissue_hu_shift(
    pred: np.ndarray,
    ref: np.ndarray,
    *,
    classes: tuple[tuple[str, float, float], ...] = CT_TISSUE_CLASSES,
    erosion: int = 1,
    smooth: float = 1.0,
    min_voxels: int = 20,
) -> dict[str, float]:
    """Per-class mean HU shift of ``pred`` against ``ref`` and the fat-muscle contrast change.

    Args:
        pred: Candidate in HU, shape of ``ref``.
        ref: Reference in HU, ``(H, W)`` or ``(D, H, W)``.
        classes: See :func:`tissue_masks`.
        erosion: See :func:`tissue_masks`.
        smooth: See :func:`tissue_masks`.
        min_voxels: A class with fewer voxels (after erosion) is not reported.

    Returns:
        For each reported class ``c``: ``{c}_ref`` (reference mean, HU) and ``{c}_shift``
        (candidate mean minus reference mean, HU). With both ``fat`` and ``muscle``:
        ``contrast_ref`` (muscle minus fat in the reference, HU) and ``contrast_change``
        (the candidate's contrast minus the reference's, HU).

    Raises:
        ValueError: On a shape mismatch or when no class has ``min_voxels`` voxels.
    """
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise ValueError(f"prediction shape {p.shape} differs from reference shape {r.shape}")
    masks = tissue_masks(r, classes=classes, erosion=erosion, smooth=smooth)
    out: dict[str, float] = {}
    means: dict[str, tuple[float, float]] = {}
    for name, mask in masks.items():
        if int(mask.sum()) < min_voxels:
            continue
        ref_mean, pred_mean = float(r[mask].mean()), float(p[mask].mean())
        means[name] = (ref_mean, pred_mean)
        out[f"{name}_ref"] = ref_mean
        out[f"{name}_shift"] = pred_mean - ref_mean
    if not means:
        names = ", ".join(c[0] for c in classes)
        raise ValueError(f"the reference has no {names} region of {min_voxels} voxels or more")
    if "fat" in means and "muscle" in means:
        contrast_ref = means["muscle"][0] - means["fat"][0]
        contrast_pred = means["muscle"][1] - means["fat"][1]
        out["contrast_ref"] = contrast_ref
        out["contrast_change"] = contrast_pred - contrast_ref
    return out
