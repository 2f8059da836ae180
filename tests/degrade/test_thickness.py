"""Slice-thickness simulation: profile width, identity, equivalence with area downsampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from medsr.degrade.resample import downsample_area
from medsr.degrade.thickness import FWHM_PER_SIGMA, simulate_slice_thickness, slice_profile_matrix
from medsr.errors import ConfigError


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("fwhm", [2.0, 2.5, 4.0])
def test_gaussian_profile_has_the_requested_fwhm(fwhm: float) -> None:
    # Impulse response = profile integrated over unit voxels: variance sigma^2 + 1/12.
    w = slice_profile_matrix(61, thickness=fwhm, factor=1)[30]
    offsets = np.arange(61) - 30
    assert abs(w.sum() - 1.0) < 1e-12
    var = float(np.sum(w * offsets**2))
    np.testing.assert_allclose(var, (fwhm / FWHM_PER_SIGMA) ** 2 + 1.0 / 12.0, rtol=1e-5)


def test_narrow_gaussian_weights_are_voxel_integrals_of_the_profile() -> None:
    fwhm, sigma = 1.0, 1.0 / FWHM_PER_SIGMA
    w = slice_profile_matrix(9, thickness=fwhm, factor=2)  # centres at 0.5, 2.5, 4.5, 6.5
    pdf = lambda t: np.exp(-0.5 * (t / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))  # noqa: E731
    row = [quad(pdf, i - 0.5 - 2.5, i + 0.5 - 2.5)[0] for i in range(9)]
    np.testing.assert_allclose(w[1], np.array(row) / np.sum(row), atol=1e-10)


def test_boxcar_of_width_factor_equals_area_downsampling() -> None:
    x = _image((2, 12, 9, 10))
    out = simulate_slice_thickness(
        x, spatial_dims=3, axis=0, thickness=3.0, factor=3, profile="boxcar"
    )
    np.testing.assert_allclose(out, downsample_area(x, spatial_dims=3, factor=(3, 1, 1)), rtol=1e-6)
    out = simulate_slice_thickness(
        x, spatial_dims=2, axis=1, thickness=2.0, factor=2, profile="boxcar"
    )
    np.testing.assert_allclose(out, downsample_area(x, spatial_dims=2, factor=(1, 2)), rtol=1e-6)


def test_zero_thickness_is_identity_or_plain_decimation() -> None:
    x = _image((9, 10, 11))
    for profile in ("gaussian", "boxcar"):
        out = simulate_slice_thickness(x, spatial_dims=3, axis=2, thickness=0.0, profile=profile)
        np.testing.assert_array_equal(out, x)
    # odd factor: the slice centres are input slices 1, 4, 7
    out = simulate_slice_thickness(x, spatial_dims=3, axis=0, thickness=0.0, factor=3)
    np.testing.assert_allclose(out, x[1::3], atol=1e-7)


def test_thick_gaussian_slices_reduce_through_plane_variance_only() -> None:
    x = _image((32, 16, 16), seed=2)
    out = simulate_slice_thickness(x, spatial_dims=3, axis=0, thickness=4.0, factor=2)
    assert out.shape == (16, 16, 16)
    np.testing.assert_allclose(out.mean(), x.mean(), rtol=0.02)
    assert out.std() < 0.6 * x.std()


def test_bad_arguments_raise() -> None:
    x = _image((8, 8))
    with pytest.raises(ConfigError, match="axis"):
        simulate_slice_thickness(x, spatial_dims=2, axis=2, thickness=1.0)
    with pytest.raises(ConfigError, match="thickness"):
        simulate_slice_thickness(x, spatial_dims=2, axis=0, thickness=-1.0)
    with pytest.raises(ConfigError, match="profile"):
        simulate_slice_thickness(x, spatial_dims=2, axis=0, thickness=1.0, profile="sinc")  # type: ignore[arg-type]
