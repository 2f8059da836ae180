"""k-space truncation: kept-band convention, numpy references, cropped grid, windows, conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import windows

from medsr.degrade.kspace import (
    kspace_keep_count,
    kspace_keep_count_zero_edges,
    kspace_window,
    truncate_kspace,
    truncate_kspace_zero_edges,
)
from medsr.errors import ConfigError


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize(
    ("n", "factor", "expected"),
    [
        (32, 2, 16),
        (31, 2, 16),
        (33, 2, 17),
        (30, 4, 8),
        (10, 3, 3),
        (7, 1, 7),
        (5, 100, 1),
        (64, 2.5, 26),
    ],
)
def test_keep_count_rounds_half_up(n: int, factor: float, expected: int) -> None:
    assert kspace_keep_count(n, factor=factor) == expected


@pytest.mark.parametrize(
    ("n", "divisor", "expected"),
    [(256, 2.5, 52), (255, 2.5, 51), (256, 4, 128), (31, math.inf, 31), (40, 2.5, 8)],
)
def test_zero_edges_keep_count(n: int, divisor: float, expected: int) -> None:
    assert kspace_keep_count_zero_edges(n, edge_divisor=divisor) == expected


def test_bad_arguments_raise() -> None:
    with pytest.raises(ConfigError, match=">= 1"):
        kspace_keep_count(10, factor=0.5)
    with pytest.raises(ConfigError, match="> 2"):
        kspace_keep_count_zero_edges(10, edge_divisor=2)
    with pytest.raises(ConfigError, match="window"):
        truncate_kspace(_image((8, 8)), spatial_dims=2, factor=2, window="kaiser")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tukey_alpha"):
        truncate_kspace(_image((8, 8)), spatial_dims=2, factor=2, window="tukey", tukey_alpha=1.5)
    with pytest.raises(ConfigError, match="spatial_dims"):
        truncate_kspace(_image((8, 8)), spatial_dims=4, factor=2)
    with pytest.raises(ConfigError, match="real"):
        truncate_kspace(np.ones((8, 8), complex), spatial_dims=2, factor=2)


def _reference_zero_filled(x: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    """Explicit numpy reference: mask the spectrum by |k| conditions in numpy frequency order."""
    axes = tuple(range(x.ndim - len(keep), x.ndim))
    spec = np.fft.fftn(x.astype(np.float64), axes=axes)
    for ax, m in zip(axes, keep):
        k = np.fft.fftfreq(x.shape[ax]) * x.shape[ax]
        lo, hi = -np.floor(m / 2), np.ceil(m / 2) - 1
        mask = ((k >= lo - 0.5) & (k <= hi + 0.5)).astype(float)
        shape = [1] * x.ndim
        shape[ax] = -1
        spec = spec * mask.reshape(shape)
    return np.abs(np.fft.ifftn(spec, axes=axes))


@pytest.mark.parametrize(
    ("shape", "factor", "spatial_dims"),
    [
        ((32, 32), (2, 2), 2),
        ((31, 45), (2, 3), 2),
        ((2, 17, 20), (1.7, 2.5), 2),
        ((12, 15, 9), (1, 2, 3), 3),
    ],
)
def test_zero_filled_matches_numpy_reference(shape, factor, spatial_dims) -> None:
    x = _image(shape)
    out = truncate_kspace(x, spatial_dims=spatial_dims, factor=factor, keep_shape=True)
    keep = tuple(kspace_keep_count(n, factor=f) for n, f in zip(shape[-spatial_dims:], factor))
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, _reference_zero_filled(x, keep), rtol=1e-5, atol=1e-6)


def test_factor_one_is_identity_even_with_a_window() -> None:
    x = _image((3, 11, 12))
    for window in ("none", "hamming", "tukey"):
        for keep_shape in (True, False):
            out = truncate_kspace(x, spatial_dims=2, factor=1, keep_shape=keep_shape, window=window)
            np.testing.assert_array_equal(out, x)


def _band_limited_at(x: np.ndarray, keep: tuple[int, int]) -> np.ndarray:
    """Direct (non-FFT) evaluation of the kept band at the LR voxel centres of a 2D image."""
    spec = np.fft.fft2(x.astype(np.float64))
    mats = []
    for n, m in zip(x.shape, keep):
        k = np.arange(-(m // 2), (m + 1) // 2)
        pos = (np.arange(m) + 0.5) * n / m - 0.5
        mats.append((k, np.exp(2j * np.pi * np.outer(pos, k) / n) / n))
    (k0, e0), (k1, e1) = mats
    sub = spec[np.ix_(k0 % x.shape[0], k1 % x.shape[1])]
    return np.abs(e0 @ sub @ e1.T)


@pytest.mark.parametrize(
    ("shape", "factor"), [((32, 30), (2, 2)), ((27, 33), (3, 1.5)), ((25, 16), (2, 4))]
)
def test_cropped_grid_samples_the_band_at_lr_voxel_centres(shape, factor) -> None:
    x = _image(shape, seed=1)
    out = truncate_kspace(x, spatial_dims=2, factor=factor, keep_shape=False)
    keep = tuple(kspace_keep_count(n, factor=f) for n, f in zip(shape, factor))
    assert out.shape == keep
    np.testing.assert_allclose(out, _band_limited_at(x, keep), rtol=1e-5, atol=1e-6)


def test_cropped_odd_factor_equals_every_third_zero_filled_sample() -> None:
    # With N = 3 M the LR voxel centres are input voxels 1, 4, 7, ...
    x = _image((30, 27), seed=2)
    lr = truncate_kspace(x, spatial_dims=2, factor=3, keep_shape=False)
    zf = truncate_kspace(x, spatial_dims=2, factor=3, keep_shape=True)
    np.testing.assert_allclose(lr, zf[1::3, 1::3], rtol=1e-5, atol=1e-6)


def test_cropped_real_part_preserves_the_mean() -> None:
    x = _image((2, 21, 34), seed=3) + 5.0
    lr = truncate_kspace(x, spatial_dims=3, factor=(1, 2, 3), keep_shape=False, magnitude=False)
    assert lr.shape == (2, 11, 11)
    np.testing.assert_allclose(lr.mean(), x.mean(), rtol=1e-6)


@pytest.mark.parametrize("m", [8, 16, 20])
def test_windows_match_scipy_periodic_windows(m: int) -> None:
    k = np.arange(-(m // 2), (m + 1) // 2)
    np.testing.assert_allclose(kspace_window(k, m, window="hamming"), windows.hamming(m, sym=False))
    np.testing.assert_allclose(
        kspace_window(k, m, window="tukey", tukey_alpha=0.4),
        windows.tukey(m, 0.4, sym=False),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        kspace_window(k, m, window="tukey", tukey_alpha=1.0), windows.hann(m, sym=False), atol=1e-12
    )


def test_window_keeps_dc_and_smooths_ringing() -> None:
    x = np.zeros((64, 64), np.float32)
    x[20:44, 20:44] = 1.0  # a square: truncation rings at its edges
    plain = truncate_kspace(x, spatial_dims=2, factor=2, magnitude=False)
    hamming = truncate_kspace(x, spatial_dims=2, factor=2, window="hamming", magnitude=False)
    np.testing.assert_allclose(hamming.mean(), x.mean(), rtol=1e-6)
    assert hamming.max() < plain.max()  # the Gibbs overshoot shrinks
    assert plain.max() > 1.05


def test_zero_edges_matches_the_reproductions_centred_code() -> None:
    # Their recipe: K = fftshift(fftn(ifftshift(x))); zero round(N/2.5) lines at each edge; |ifft|.
    x = _image((40, 41), seed=4)
    spec = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x.astype(np.float64))))
    for ax in (0, 1):
        r = int(np.floor(x.shape[ax] / 2.5 + 0.5))
        index = [slice(None)] * 2
        index[ax] = slice(0, r)
        spec[tuple(index)] = 0
        index[ax] = slice(x.shape[ax] - r, None)
        spec[tuple(index)] = 0
    ref = np.abs(np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(spec))))
    out = truncate_kspace_zero_edges(x, spatial_dims=2, edge_divisor=2.5)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    # edge divisor 2.5 keeps 8 of 40 lines: per-axis factor 5, not 2.5
    np.testing.assert_allclose(
        out, truncate_kspace(x, spatial_dims=2, factor=(5, 41 / 9)), atol=1e-6
    )


def test_leading_axes_are_independent() -> None:
    x = _image((3, 2, 14, 15), seed=5)
    out = truncate_kspace(x, spatial_dims=2, factor=2, keep_shape=False)
    single = truncate_kspace(x[1, 0], spatial_dims=2, factor=2, keep_shape=False)
    np.testing.assert_array_equal(out[1, 0], single)
