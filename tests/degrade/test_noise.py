"""Noise models: moments against their analytic values, identity at zero strength."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medsr.degrade.noise import add_gaussian_noise, add_poisson_gaussian_noise, add_rician_noise
from medsr.errors import ConfigError

N = 40_000


def test_gaussian_moments() -> None:
    x = np.full(N, 0.3, np.float32)
    y = add_gaussian_noise(x, rng=np.random.default_rng(0), sigma=0.05)
    assert y.dtype == np.float32
    assert abs(y.mean() - 0.3) < 4 * 0.05 / math.sqrt(N)
    np.testing.assert_allclose(y.std(), 0.05, rtol=0.02)


def test_rician_background_is_rayleigh_and_second_moment_exact() -> None:
    sigma = 0.1
    bg = add_rician_noise(np.zeros(N, np.float32), rng=np.random.default_rng(1), sigma=sigma)
    np.testing.assert_allclose(bg.mean(), sigma * math.sqrt(math.pi / 2), rtol=0.01)
    assert bg.min() >= 0
    x = np.full(N, 1.0, np.float32)
    y = add_rician_noise(x, rng=np.random.default_rng(2), sigma=sigma).astype(np.float64)
    np.testing.assert_allclose(
        np.mean(y**2), 1.0 + 2 * sigma**2, rtol=0.005
    )  # E[M^2] = A^2 + 2 s^2
    np.testing.assert_allclose(y.mean(), math.sqrt(1.0 + sigma**2), rtol=0.002)  # high-SNR mean


@pytest.mark.parametrize(("gain", "sigma"), [(0.01, 0.0), (0.002, 0.03), (0.0, 0.02)])
def test_poisson_gaussian_mean_and_variance(gain: float, sigma: float) -> None:
    x = np.full(N, 0.5, np.float32)
    y = add_poisson_gaussian_noise(x, rng=np.random.default_rng(3), gain=gain, sigma=sigma).astype(
        np.float64
    )
    var = gain * 0.5 + sigma**2
    assert abs(y.mean() - 0.5) < 4 * math.sqrt(var / N)
    np.testing.assert_allclose(y.var(), var, rtol=0.03)
    if gain > 0 and sigma == 0:  # outputs are whole photon counts times the gain
        np.testing.assert_allclose(y / gain, np.round(y / gain), atol=1e-3)


def test_poisson_treats_negative_as_zero_counts() -> None:
    y = add_poisson_gaussian_noise(
        np.full(100, -1.0, np.float32), rng=np.random.default_rng(0), gain=0.1
    )
    np.testing.assert_array_equal(y, 0.0)


def test_zero_strength_is_identity() -> None:
    x = np.random.default_rng(5).random((3, 7, 8)).astype(np.float32)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(add_gaussian_noise(x, rng=rng, sigma=0.0), x)
    np.testing.assert_array_equal(add_rician_noise(x, rng=rng, sigma=0.0), x)
    np.testing.assert_array_equal(add_poisson_gaussian_noise(x, rng=rng, gain=0.0, sigma=0.0), x)


def test_bad_parameters_raise() -> None:
    x = np.ones(4, np.float32)
    with pytest.raises(ConfigError, match="sigma"):
        add_gaussian_noise(x, rng=np.random.default_rng(0), sigma=-1.0)
    with pytest.raises(ConfigError, match="gain"):
        add_poisson_gaussian_noise(x, rng=np.random.default_rng(0), gain=-0.1)
    with pytest.raises(ConfigError, match="Generator"):
        add_rician_noise(x, rng=0, sigma=0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="larger gain"):
        add_poisson_gaussian_noise(x * 1e6, rng=np.random.default_rng(0), gain=1e-9)
