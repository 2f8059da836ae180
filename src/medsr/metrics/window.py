"""The SSIM window shared by the numpy and torch implementations.

Wang et al. (2004) use an 11-tap Gaussian window with standard deviation 1.5, K1 = 0.01 and
K2 = 0.03. scikit-image obtains the same window from ``gaussian_weights=True, sigma=1.5`` (it
truncates the Gaussian at 3.5 sigma, i.e. radius ``int(3.5 * 1.5 + 0.5) = 5``).
"""

from __future__ import annotations

import numpy as np

#: Standard deviation of the Gaussian window, in voxels.
SSIM_SIGMA = 1.5
#: Half width of the window; the window has ``2 * SSIM_RADIUS + 1 = 11`` taps.
SSIM_RADIUS = 5
#: Stabilising constants: ``C1 = (K1 * R) ** 2``, ``C2 = (K2 * R) ** 2``.
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def gaussian_taps(*, sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """Normalised 1D Gaussian weights ``w[i] ~ exp(-i^2 / (2 sigma^2))`` for ``i in [-r, r]``.

    Args:
        sigma: Standard deviation in samples.
        radius: Half width; the result has ``2 * radius + 1`` taps.

    Returns:
        float64 array of ``2 * radius + 1`` weights that sum to 1.

    Raises:
        ValueError: If ``sigma`` or ``radius`` is not positive.
    """
    if sigma <= 0 or radius < 1:
        raise ValueError(f"sigma and radius must be positive, got {sigma!r} and {radius!r}")
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()
