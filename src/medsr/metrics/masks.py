"""Foreground masks derived from a reference image (used by the ``brain-mask`` protocol)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def foreground_mask(
    ref: np.ndarray,
    *,
    fraction: float = 0.1,
    percentile: float = 99.0,
    closing_iterations: int = 2,
) -> np.ndarray:
    """Foreground of a magnitude image: threshold, close, fill holes, keep the largest part.

    Steps: ``ref > fraction * percentile(ref, percentile)`` (a robust maximum, so a few hot
    voxels do not move the threshold); binary closing with the face-connected structuring
    element repeated ``closing_iterations`` times (computed on a zero-padded copy so the image
    border does not erode the mask); hole filling; the largest connected component.

    Args:
        ref: 2D or 3D reference image (non-negative magnitude, e.g. T1 MRI).
        fraction: Threshold as a fraction of the robust maximum.
        percentile: Percentile of ``ref`` used as the robust maximum.
        closing_iterations: Closing iterations (0 disables closing).

    Returns:
        Boolean mask of ``ref``'s shape.

    Raises:
        ValueError: If the robust maximum is not positive or nothing passes the threshold.

    Shape:
        ref: ``(H, W)`` or ``(D, H, W)``; output: the same.
    """
    r = np.asarray(ref, dtype=np.float64)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    robust_max = float(np.percentile(r, percentile))
    if robust_max <= 0:
        raise ValueError(
            "reference has no positive foreground "
            f"(its {percentile}th percentile is {robust_max:g})"
        )
    mask = r > fraction * robust_max
    if closing_iterations > 0:
        pad = closing_iterations
        padded = np.pad(mask, pad)
        structure = ndimage.generate_binary_structure(r.ndim, 1)
        closed = ndimage.binary_closing(padded, structure, iterations=closing_iterations)
        mask = closed[tuple(slice(pad, n - pad) for n in closed.shape)]
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask)
    if count == 0:
        raise ValueError("no voxel of the reference passes the foreground threshold")
    if count > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return np.asarray(mask, dtype=bool)
