"""k-space augmentations: Gaussian filter against a spatial Gaussian blur, random truncation width."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from medsr.degrade.kspace import kspace_keep_count, truncate_kspace
from medsr.degrade.kspace_augment import (
    draw_uniform,
    gaussian_kspace_filter,
    random_gaussian_kspace_filter,
    random_kspace_truncation,
)
from medsr.errors import ConfigError


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_gaussian_filter_is_a_circular_gaussian_blur() -> None:
    x = _image((40, 33)) + 1.0
    sigma = (0.08, 0.12)  # fractions of the k-space extent
    out = gaussian_kspace_filter(x, spatial_dims=2, sigma=sigma)
    blur = [1.0 / (2.0 * math.pi * s) for s in sigma]  # voxels
    ref = gaussian_filter(x.astype(np.float64), sigma=blur, mode="wrap", truncate=10.0)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_gaussian_filter_inf_is_identity_and_bad_sigma_raises() -> None:
    x = _image((2, 9, 10, 11))
    np.testing.assert_array_equal(gaussian_kspace_filter(x, spatial_dims=3, sigma=math.inf), x)
    out = gaussian_kspace_filter(x, spatial_dims=3, sigma=(math.inf, math.inf, 0.1))
    np.testing.assert_allclose(out.mean(axis=-1), x.mean(axis=-1), rtol=1e-5)  # only W is blurred
    with pytest.raises(ConfigError, match="sigma"):
        gaussian_kspace_filter(x, spatial_dims=3, sigma=0.0)


def test_draw_uniform_stays_in_range_and_shares_position() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        f = draw_uniform(rng, low=(1.0, 2.0, 2.0), high=(1.0, 3.0, 4.0), shared=True)
        assert f[0] == 1.0 and 2.0 <= f[1] <= 3.0 and 2.0 <= f[2] <= 4.0
        np.testing.assert_allclose((f[1] - 2.0) / 1.0, (f[2] - 2.0) / 2.0)
    with pytest.raises(ConfigError, match="exceed"):
        draw_uniform(rng, low=(3.0,), high=(2.0,), shared=True)


def test_random_truncation_equals_truncation_at_the_drawn_factor() -> None:
    x = _image((30, 31))
    out = random_kspace_truncation(
        x, rng=np.random.default_rng(7), spatial_dims=2, factor_low=1.5, factor_high=3.0
    )
    f = draw_uniform(np.random.default_rng(7), low=(1.5, 1.5), high=(3.0, 3.0), shared=True)
    np.testing.assert_array_equal(out, truncate_kspace(x, spatial_dims=2, factor=f))
    sizes = set()
    for seed in range(12):
        lr = random_kspace_truncation(
            x,
            rng=np.random.default_rng(seed),
            spatial_dims=2,
            factor_low=1.5,
            factor_high=3.0,
            keep_shape=False,
        )
        sizes.add(lr.shape)
    allowed = range(kspace_keep_count(30, factor=3.0), kspace_keep_count(31, factor=1.5) + 1)
    assert len(sizes) > 3 and all(a in allowed and b in allowed for a, b in sizes)


def test_random_gaussian_filter_is_seeded() -> None:
    x = _image((16, 17))
    kw = {"spatial_dims": 2, "sigma_low": 0.05, "sigma_high": 0.3}
    a = random_gaussian_kspace_filter(x, rng=np.random.default_rng(1), **kw)
    b = random_gaussian_kspace_filter(x, rng=np.random.default_rng(1), **kw)
    c = random_gaussian_kspace_filter(x, rng=np.random.default_rng(2), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
