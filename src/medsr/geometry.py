"""Voxel-grid geometry: affines, spacing and field-of-view preserving grid changes.

Convention: voxel centres at integer indices, an axis of ``n`` voxels covers ``[-0.5, n - 0.5]``
in index space. Changing the grid by a per-axis factor ``s`` over the *same* field of view
(``s > 1`` refines, ``s < 1`` coarsens) maps new index ``j`` to old index ``(j + 0.5) / s - 0.5``;
hence new spacing = old / s and the outer edges of the field of view keep their world coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def spacing_from_affine(affine: np.ndarray) -> tuple[float, ...]:
    """Voxel size along each index axis: the norms of the affine's first three columns."""
    a = np.asarray(affine, dtype=np.float64)
    return tuple(float(v) for v in np.linalg.norm(a[:3, :3], axis=0))


def affine_from_spacing(
    spacing: Sequence[float], origin: Sequence[float] | None = None
) -> np.ndarray:
    """Diagonal affine for an axis-aligned grid (index axes d, h, w map to world x, y, z)."""
    a = np.eye(4)
    a[0, 0], a[1, 1], a[2, 2] = (float(s) for s in spacing)
    if origin is not None:
        a[:3, 3] = np.asarray(origin, dtype=np.float64)
    return a


def rescale_affine(affine: np.ndarray, factor: Sequence[float]) -> np.ndarray:
    """Affine of the grid refined (factor > 1) or coarsened (factor < 1) over the same field of view.

    Args:
        affine: 4x4 voxel-to-world matrix of the old grid (index order d, h, w).
        factor: Per-axis factor ``s`` (new shape = old shape * s).

    Returns:
        The new 4x4 affine: columns divided by ``s``, origin moved so the outer edges stay put.
    """
    s = np.asarray(factor, dtype=np.float64)
    if s.shape != (3,) or np.any(s <= 0):
        raise ValueError(f"factor must be three positive numbers, got {factor!r}")
    a = np.asarray(affine, dtype=np.float64)
    m = np.eye(4)
    m[:3, :3] = np.diag(1.0 / s)
    m[:3, 3] = 0.5 / s - 0.5
    return a @ m


def crop_affine(affine: np.ndarray, start: Sequence[int]) -> np.ndarray:
    """Affine of a sub-grid whose first voxel is old voxel ``start``."""
    a = np.asarray(affine, dtype=np.float64).copy()
    a[:3, 3] = a[:3, 3] + a[:3, :3] @ np.asarray(start, dtype=np.float64)
    return a


def fov_corners(affine: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """World coordinates of the 8 outer corners of the field of view (not voxel centres).

    Returns:
        ``(8, 3)`` array, corners in lexicographic order of (d, h, w) in {low, high}.
    """
    n = np.asarray(shape, dtype=np.float64)
    idx = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=np.float64)
    pts = -0.5 + idx * n  # -0.5 or n - 0.5
    homog = np.concatenate([pts, np.ones((8, 1))], axis=1)
    return (np.asarray(affine, dtype=np.float64) @ homog.T).T[:, :3]
