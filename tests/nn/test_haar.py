"""Haar DWT: perfect reconstruction, orthonormality, agreement with a direct numpy computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from medsr.nn.haar import HaarDWT, HaarIDWT, haar_dwt, haar_idwt, split_bands


def _numpy_haar(x: np.ndarray) -> np.ndarray:
    """Direct per-coefficient Haar DWT of a (B, C, *S) array, band-major output."""
    dims = x.ndim - 2
    half = tuple(s // 2 for s in x.shape[2:])
    bands = []
    for bits in itertools.product((0, 1), repeat=dims):  # first axis most significant
        band = np.zeros(x.shape[:2] + half)
        for offs in itertools.product((0, 1), repeat=dims):
            sign = 1.0
            for bit, off in zip(bits, offs):
                if bit == 1 and off == 1:
                    sign = -sign
            index = tuple(slice(o, None, 2) for o in offs)
            band += sign * x[(slice(None), slice(None), *index)]
        bands.append(band / np.sqrt(2.0) ** dims)
    return np.concatenate(bands, axis=1)


@pytest.mark.parametrize("shape", [(2, 3, 6, 10), (1, 2, 4, 6, 8)])
def test_matches_direct_numpy(shape: tuple[int, ...], gen: torch.Generator) -> None:
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    expected = torch.from_numpy(_numpy_haar(x.numpy()))
    torch.testing.assert_close(haar_dwt(x), expected, rtol=0, atol=1e-12)


def test_band_layout_2d_hand_values() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 5.0]]).reshape(1, 1, 2, 2)
    y = haar_dwt(x).flatten()
    # LL = sum / 2; LH (W high) = (1 - 2 + 3 - 5) / 2; HL (H high) = (1 + 2 - 3 - 5) / 2;
    # HH = (1 - 2 - 3 + 5) / 2
    torch.testing.assert_close(y, torch.tensor([5.5, -1.5, -2.5, 0.5]))


@pytest.mark.parametrize("shape", [(2, 3, 8, 12), (2, 2, 4, 6, 10)])
def test_perfect_reconstruction_and_energy(shape: tuple[int, ...], gen: torch.Generator) -> None:
    x = torch.randn(shape, generator=gen)
    y = haar_dwt(x)
    dims = len(shape) - 2
    assert y.shape == (shape[0], shape[1] * 2**dims, *(s // 2 for s in shape[2:]))
    torch.testing.assert_close(haar_idwt(y), x, rtol=0, atol=1e-6)
    torch.testing.assert_close((y**2).sum(), (x**2).sum(), rtol=1e-6, atol=0)


def test_constant_input_has_no_high_band_energy() -> None:
    x = torch.full((1, 2, 4, 4, 4), 3.0)
    low, high = split_bands(haar_dwt(x))
    assert low.shape == (1, 2, 2, 2, 2) and high.shape == (1, 14, 2, 2, 2)
    torch.testing.assert_close(low, torch.full_like(low, 3.0 * 2 ** (3 / 2)))
    assert high.abs().max() < 1e-6


def test_modules_and_gradient(gen: torch.Generator) -> None:
    x = torch.randn(1, 1, 4, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    y = HaarDWT(spatial_dims=3)(x)
    torch.testing.assert_close(HaarIDWT(spatial_dims=3)(y), x.detach(), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: haar_dwt(t), (x,))


def test_errors() -> None:
    with pytest.raises(ValueError, match="even spatial sizes"):
        haar_dwt(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="2D"):
        haar_dwt(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="divisible by 4"):
        haar_idwt(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="spatial_dims"):
        HaarDWT(spatial_dims=1)
