"""Wavelet median-absolute-deviation (MAD) noise estimate.

Donoho and Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994: for
additive white Gaussian noise the finest diagonal wavelet band is almost pure noise, and
``sigma = median(|HH|) / 0.6745`` estimates its standard deviation robustly. Here the band is the
orthonormal Haar one of :mod:`medsr.nn.haar`: for every 2x2 cell ``[[a, b], [c, d]]``
``HH = (a - b - c + d) / 2``; in 3D the 2x2x2 cell's alternating-sign sum divided by
``2 * sqrt(2)`` (band HHH). Odd sizes drop their last row / column / slice. SRResCGAN (Umer et
al., 2020) uses this estimate (with a Daubechies-7 band) to set the radius of its L2 projection.
"""

from __future__ import annotations

import torch
from torch import Tensor

from medsr.nn.haar import haar_dwt

_MAD_TO_SIGMA = 0.6745


def haar_diagonal_band(x: Tensor) -> Tensor:
    """Finest diagonal band of the orthonormal Haar transform (HH in 2D, HHH in 3D).

    Args:
        x: Batch ``(B, C, *n)`` with 2 or 3 spatial axes, each of size >= 2.

    Returns:
        The band, ``(B, C, *(n // 2))``.

    Raises:
        ValueError: If the batch is not 2D/3D or a spatial size is below 2.

    Shape:
        - Input: ``(B, C, *n)``
        - Output: ``(B, C, *(n // 2))``
    """
    d = x.ndim - 2
    if d not in (2, 3):
        raise ValueError(f"expected a (B, C, H, W) or (B, C, D, H, W) batch, got {tuple(x.shape)}")
    if any(s < 2 for s in x.shape[2:]):
        raise ValueError(f"every spatial size must be >= 2 for a Haar band, got {tuple(x.shape)}")
    even = x[(slice(None), slice(None), *(slice(0, s - s % 2) for s in x.shape[2:]))]
    return haar_dwt(even, d)[:, -x.shape[1] :]  # the all-high band comes last (see medsr.nn.haar)


def wavelet_mad_sigma(x: Tensor) -> Tensor:
    """Per-sample noise standard deviation from the finest diagonal Haar band.

    ``sigma_b = mean_c(median(|HH_{b,c}|)) / 0.6745``; the result carries no gradient, as in
    SRResCGAN.

    Args:
        x: Batch ``(B, C, *n)`` with 2 or 3 spatial axes, each of size >= 2.

    Returns:
        ``(B,)`` tensor of estimates in the units of ``x``.

    Raises:
        ValueError: As :func:`haar_diagonal_band`.

    Shape:
        - Input: ``(B, C, *n)``
        - Output: ``(B,)``
    """
    with torch.no_grad():
        band = haar_diagonal_band(x).abs().flatten(2)
        return band.median(dim=2).values.mean(dim=1) / _MAD_TO_SIGMA
