"""BM3D for CT denoising, in the units of the CT network window.

K. Dabov, A. Foi, V. Katkovnik and K. Egiazarian, "Image Denoising by Sparse 3-D Transform-Domain
Collaborative Filtering", IEEE TIP 16(8), 2007; the reference implementation of Y. Mäkinen,
L. Azzari and A. Foi (the ``bm3d`` package, ``pip install bm3d`` or the ``classic`` extra).

Each 2D slice (along ``D``) is mapped from HU to the window units the CT networks see,
``(HU - lo) / (hi - lo)`` with the window of the CT recipes (-1024..3072 HU), denoised by both
BM3D stages (hard thresholding, then Wiener filtering) with the noise sigma in those units, and
mapped back. Values outside the window stay linear (no clipping). The noise sigma is
:func:`~medsr.baselines.noise.estimate_ct_noise_sigma` of the volume unless one is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medsr.baselines.noise import estimate_ct_noise_sigma
from medsr.baselines.progress import each_slice
from medsr.errors import MissingDependencyError

#: The CT network window of the recipes (``task.intensity`` of configs/dfgan.yaml), in HU.
BM3D_WINDOW_HU = (-1024.0, 3072.0)


def _bm3d() -> Any:
    try:
        import bm3d
    except ImportError:
        raise MissingDependencyError(
            "this baseline needs the bm3d package: pip install bm3d (or pip install 'medsr[classic]')"
        ) from None
    return bm3d


def bm3d_ct(x: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """BM3D on each slice of a CT image in HU (module docstring).

    Args:
        x: ``(H, W)`` or ``(D, H, W)`` array in HU.
        sigma: Noise standard deviation in HU; None estimates it with
            :func:`~medsr.baselines.noise.estimate_ct_noise_sigma`.

    Returns:
        The denoised float64 array in HU (a copy of ``x`` when ``sigma`` is 0).

    Raises:
        MissingDependencyError: If the ``bm3d`` package is not installed.
        ValueError: On a negative sigma or an array that is not 2D or 3D.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected a 2D or 3D array, got shape {arr.shape}")
    s = estimate_ct_noise_sigma(arr) if sigma is None else float(sigma)
    if not s >= 0:
        raise ValueError(f"sigma must be >= 0 HU, got {sigma}")
    if s == 0.0:
        return arr.copy()
    bm3d = _bm3d()
    lo, hi = BM3D_WINDOW_HU
    span = hi - lo

    def one(plane: np.ndarray) -> np.ndarray:
        unit = (plane - lo) / span
        out = bm3d.bm3d(unit, sigma_psd=s / span, stage_arg=bm3d.BM3DStages.ALL_STAGES)
        return np.asarray(out, dtype=np.float64) * span + lo

    if arr.ndim == 2:
        return one(arr)
    return each_slice(arr, one)
