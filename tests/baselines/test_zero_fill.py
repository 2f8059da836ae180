"""Zero-filled k-space upsampling: exact on band-limited signals, real, FOV-consistent."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.baselines.interpolate import source_positions
from medsr.baselines.zero_fill import zero_fill_upsample


def _bandlimited(t: np.ndarray, n: int) -> np.ndarray:
    """A periodic signal over the FOV [-0.5, n - 0.5] with frequencies 1 and 3 (< n / 2)."""
    u = 2 * np.pi * (t + 0.5) / n
    return 1.0 + np.cos(u + 0.3) + 0.5 * np.sin(3 * u + 1.1)


@pytest.mark.parametrize(("n", "s"), [(8, 2), (9, 2), (9, 3), (10, 4)])
def test_band_limited_signal_is_recovered_at_the_new_voxel_centres(n: int, s: int) -> None:
    lo = _bandlimited(np.arange(n, dtype=float), n)
    img = np.outer(np.ones(5), lo)
    up = zero_fill_upsample(img, scale=(1, s))
    assert up.shape == (5, n * s) and up.dtype == np.float64
    expected = _bandlimited(source_positions(n, s), n)
    np.testing.assert_allclose(up[2], expected, atol=1e-12)


def test_3d_separable_constant_kept_and_real_output() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((4, 6, 5))
    up = zero_fill_upsample(x, scale=(1, 2, 3))
    assert up.shape == (4, 12, 15) and np.isrealobj(up)
    np.testing.assert_allclose(
        zero_fill_upsample(np.full((4, 6, 5), 3.0), scale=2), 3.0, atol=1e-12
    )
    # the mean (DC) is kept, and decimating back at the original centres is not required to be exact
    assert up.mean() == pytest.approx(x.mean())
    # complex in, complex out
    assert np.iscomplexobj(zero_fill_upsample(x.astype(np.complex128), scale=2))


def test_inverts_medsr_degrade_kspace_cropping() -> None:
    from medsr.degrade import kspace

    rng = np.random.default_rng(1)
    x = rng.random((15, 21))
    # odd kept counts (5, 7): no unpaired Nyquist line, so both conventions agree exactly
    lr = kspace.truncate_kspace(x, spatial_dims=2, factor=3, keep_shape=False, magnitude=False)
    same_grid = kspace.truncate_kspace(
        x, spatial_dims=2, factor=3, keep_shape=True, magnitude=False
    )
    assert lr.shape == (5, 7)
    up = zero_fill_upsample(lr.astype(np.float64), scale=3)
    np.testing.assert_allclose(up, same_grid, atol=1e-5)
