"""Wavelet-MAD noise estimate and the Haar diagonal band."""

from __future__ import annotations

import math

import pytest
import torch

from medsr.nn.noise_estimate import haar_diagonal_band, wavelet_mad_sigma


def test_haar_band_2d_formula(gen: torch.Generator) -> None:
    x = torch.randn(2, 3, 6, 8, generator=gen)
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    torch.testing.assert_close(haar_diagonal_band(x), (a - b - c + d) / 2)


def test_haar_band_3d_formula_and_odd_crop(gen: torch.Generator) -> None:
    x = torch.randn(1, 1, 5, 4, 7, generator=gen)
    expected = torch.zeros(1, 1, 2, 2, 3)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                expected += (-1) ** (i + j + k) * x[..., i:4:2, j:4:2, k:6:2]
    torch.testing.assert_close(haar_diagonal_band(x), expected / (2 * math.sqrt(2)))


@pytest.mark.parametrize("dims", [2, 3])
def test_sigma_of_white_noise(dims: int) -> None:
    g = torch.Generator().manual_seed(3)
    shape = (2, 1, 256, 256) if dims == 2 else (2, 1, 40, 40, 40)
    sigma = torch.tensor([0.05, 0.2])
    x = torch.randn(shape, generator=g) * sigma.view(2, *([1] * (dims + 1)))
    torch.testing.assert_close(wavelet_mad_sigma(x), sigma, rtol=0.05, atol=0)


def test_sigma_ignores_smooth_signal() -> None:
    ramp = torch.linspace(0, 10, 64)
    plane = ramp[:, None] + 2 * ramp[None, :]
    sigma = wavelet_mad_sigma(plane[None, None])
    torch.testing.assert_close(sigma, torch.zeros(1), atol=1e-5, rtol=0)


def test_sigma_has_no_gradient() -> None:
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    assert not wavelet_mad_sigma(x).requires_grad


def test_band_rejects_tiny_input() -> None:
    with pytest.raises(ValueError, match=">= 2"):
        haar_diagonal_band(torch.zeros(1, 1, 1, 4))
