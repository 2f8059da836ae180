"""First-order noise model of :func:`medsr.degrade.ct.simulate_low_dose_ct`.

Per ray (view ``v``, bin ``k``) with expected counts ``lambda = I0 dose exp(-p)``, the delta method
gives ``var(p') = var(N) / lambda^2 = 1 / lambda + sigma_e^2 / lambda^2``. Rays are independent
and FBP is linear, ``noise(x) = sum_{v,k} c_{vk}(x) (p'_{vk} - p_{vk})``, so the HU variance at
pixel ``x`` is

    var(x) = (1000 / (mu_water a))^2 sum_{v,k} c_{vk}(x)^2 (1 / lambda_vk + sigma_e^2 / lambda_vk^2)
           = A(x) / dose + sigma_e^2 B(x) / dose^2

with ``a`` the pixel size and ``c_{vk}(x) = (pi / V) [(1 - f) h(i - k) + f h(i + 1 - k)]``, where
``i + f`` (``0 <= f < 1``) is the detector coordinate of ``x`` in view ``v`` and ``h`` the FBP
filter's impulse response. Without electronic noise the standard deviation scales exactly as
``1 / sqrt(dose)``; electronic noise adds a term growing as ``1 / dose^2`` in variance, which
dominates where ``lambda < sigma_e^2`` (photon starvation). The model ignores the clamp and the
log's higher-order terms, so it is accurate while ``lambda`` stays well above ~20 counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsr.conventions import MU_WATER_PER_MM
from medsr.degrade.ct import line_integrals
from medsr.degrade.ct_projector import (
    FbpFilter,
    default_detector_count,
    fbp_filter_kernel,
    view_angles,
)
from medsr.errors import ConfigError


def ct_noise_coefficients(
    hu: np.ndarray,
    *,
    pixels: Sequence[tuple[int, int]] | np.ndarray,
    pixel_size: float,
    i0: float,
    views: int = 360,
    detectors: int | None = None,
    filter: FbpFilter = "ramp",
    mu_water: float = MU_WATER_PER_MM,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``A`` and ``B`` of ``var = A / dose + sigma_e^2 B / dose^2`` (HU^2) at pixels.

    Args:
        hu: The full-dose slice in HU.
        pixels: ``(row, col)`` indices, shape ``(n, 2)``.
        pixel_size: Pixel size in mm.
        i0: Photons per ray at full dose.
        views: Projection angles, as in the simulation.
        detectors: Detector bins, as in the simulation.
        filter: FBP filter, as in the simulation.
        mu_water: Attenuation of water in 1/mm.

    Returns:
        ``(A, B)``, float64 arrays of ``n`` values.

    Raises:
        ConfigError: For a slice that is not 2D or pixels outside it.

    Shape:
        hu: ``(H, W)``; pixels ``(n, 2)`` -> ``(n,)`` and ``(n,)``.
    """
    s = np.asarray(hu, dtype=np.float64)
    if s.ndim != 2:
        raise ConfigError(f"the CT noise model takes one (H, W) slice, got shape {s.shape}")
    h, w = s.shape
    px = np.asarray(pixels, dtype=np.int64).reshape(-1, 2)
    if np.any(px < 0) or np.any(px[:, 0] >= h) or np.any(px[:, 1] >= w):
        raise ConfigError(f"pixels must lie inside the {h}x{w} slice")
    nd = default_detector_count((h, w)) if detectors is None else int(detectors)
    p = line_integrals(s, pixel_size=pixel_size, views=views, detectors=nd, mu_water=mu_water)
    inv_counts = np.exp(p) / i0  # 1 / lambda at full dose
    kernel = np.real(np.fft.ifft(fbp_filter_kernel(nd, filter=filter)))
    size = kernel.shape[0]
    theta = view_angles(views)
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    k = np.arange(nd)[None, :]
    a = np.empty(px.shape[0])
    b = np.empty(px.shape[0])
    for n, (row, col) in enumerate(px):
        u = (col - (w - 1) / 2.0) * cos + ((h - 1) / 2.0 - row) * sin + (nd - 1) / 2.0
        lo = np.floor(u)
        frac = u - lo
        lo_i = lo.astype(np.int64)
        in0 = (lo_i >= 0) & (lo_i < nd)
        in1 = (lo_i + 1 >= 0) & (lo_i + 1 < nd)
        weights = (1.0 - frac) * in0 * kernel[(lo_i - k) % size]
        weights += frac * in1 * kernel[(lo_i + 1 - k) % size]
        sq = weights**2 * inv_counts
        a[n] = np.sum(sq)
        b[n] = np.sum(sq * inv_counts)
    scale = ((math.pi / views) * 1000.0 / (mu_water * pixel_size)) ** 2
    return a * scale, b * scale


def predict_ct_noise_variance(
    hu: np.ndarray,
    *,
    pixels: Sequence[tuple[int, int]] | np.ndarray,
    pixel_size: float,
    dose: float,
    i0: float,
    sigma_e: float = 0.0,
    views: int = 360,
    detectors: int | None = None,
    filter: FbpFilter = "ramp",
    mu_water: float = MU_WATER_PER_MM,
) -> np.ndarray:
    """Predicted variance (HU^2) of the noise added at chosen pixels of one slice.

    Args:
        hu: The full-dose slice in HU.
        pixels: ``(row, col)`` indices, shape ``(n, 2)``.
        pixel_size: Pixel size in mm.
        dose: Dose fraction.
        i0: Photons per ray at full dose.
        sigma_e: Electronic noise standard deviation in counts.
        views: Projection angles, as in the simulation.
        detectors: Detector bins, as in the simulation.
        filter: FBP filter, as in the simulation.
        mu_water: Attenuation of water in 1/mm.

    Returns:
        Float64 array of ``n`` variances, ``A / dose + sigma_e^2 B / dose^2``.

    Raises:
        ConfigError: For a slice that is not 2D or pixels outside it.

    Shape:
        hu: ``(H, W)``; pixels ``(n, 2)`` -> ``(n,)``.
    """
    a, b = ct_noise_coefficients(
        hu,
        pixels=pixels,
        pixel_size=pixel_size,
        i0=i0,
        views=views,
        detectors=detectors,
        filter=filter,
        mu_water=mu_water,
    )
    return a / dose + sigma_e**2 * b / dose**2
