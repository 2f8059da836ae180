"""Image-domain noise: Gaussian, Rician (magnitude MRI) and Poisson-Gaussian (photon + read noise).

All three work element-wise on arrays of any shape, in the image's own intensity units.
"""

from __future__ import annotations

import numpy as np

from medsr.degrade._common import check_real, check_rng
from medsr.errors import ConfigError

#: Largest Poisson mean drawn (NumPy refuses much larger ones); ``x / gain`` must stay below it.
MAX_POISSON_MEAN = 1e12


def _check_sigma(sigma: float, name: str = "sigma") -> float:
    s = float(sigma)
    if not s >= 0 or not np.isfinite(s):
        raise ConfigError(f"{name} must be a finite number >= 0, got {sigma!r}")
    return s


def add_gaussian_noise(x: np.ndarray, *, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """``x + sigma * n`` with ``n`` standard normal per element.

    Args:
        x: Real array.
        rng: Generator for the noise.
        sigma: Standard deviation in intensity units (e.g. ``0.02`` on data normalised to ``[0, 1]``).

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For a negative sigma or a bad array.

    Shape:
        x: any.
    """
    a = check_real(x).astype(np.float64)
    s = _check_sigma(sigma)
    check_rng(rng)
    if s > 0:
        a = a + s * rng.standard_normal(a.shape)
    return np.ascontiguousarray(a, dtype=np.float32)


def add_rician_noise(x: np.ndarray, *, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise: ``|x + sigma n_1 + i sigma n_2|``.

    This is the noise of magnitude MRI: Rician where there is signal, Rayleigh (mean
    ``sigma sqrt(pi / 2)``) in the background. ``sigma = 0`` returns ``|x|``.

    Args:
        x: Real array (the noise-free magnitude).
        rng: Generator for the noise.
        sigma: Standard deviation of each of the real and imaginary noise channels.

    Returns:
        Float32 array of the input shape, ``>= 0``.

    Raises:
        ConfigError: For a negative sigma or a bad array.

    Shape:
        x: any.
    """
    a = check_real(x).astype(np.float64)
    s = _check_sigma(sigma)
    check_rng(rng)
    if s > 0:
        n = rng.standard_normal((2, *a.shape))
        a = np.hypot(a + s * n[0], s * n[1])
    return np.ascontiguousarray(np.abs(a), dtype=np.float32)


def add_poisson_gaussian_noise(
    x: np.ndarray, *, rng: np.random.Generator, gain: float, sigma: float = 0.0
) -> np.ndarray:
    """Photon (shot) noise plus Gaussian read noise: ``gain * Poisson(x / gain) + sigma * n``.

    ``gain`` is the intensity of one photon (or electron), so ``x / gain`` is the expected count;
    the output has mean ``x`` and variance ``gain * x + sigma^2``. Negative ``x`` is treated as zero
    expected counts. ``gain = 0`` switches the Poisson part off, ``sigma = 0`` the Gaussian part.

    Args:
        x: Real array of expected intensities.
        rng: Generator for the noise.
        gain: Intensity per count, ``>= 0``.
        sigma: Read-noise standard deviation in intensity units, ``>= 0``.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For negative parameters, counts too large to draw, or a bad array.

    Shape:
        x: any.
    """
    a = check_real(x).astype(np.float64)
    g = _check_sigma(gain, "gain")
    s = _check_sigma(sigma)
    check_rng(rng)
    if g > 0:
        lam = np.clip(a, 0.0, None) / g
        if lam.max() > MAX_POISSON_MEAN:
            raise ConfigError(f"x / gain reaches {lam.max():.3g} counts; use a larger gain")
        a = g * rng.poisson(lam).astype(np.float64)
    if s > 0:
        a = a + s * rng.standard_normal(a.shape)
    return np.ascontiguousarray(a, dtype=np.float32)
