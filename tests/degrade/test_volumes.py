"""Volume-level degradations keep the geometry right (world coordinates of corners and voxels)."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.degrade import degrade_volume
from medsr.degrade.apply import VOLUME_KINDS, kind_parameters
from medsr.degrade.volumes import (
    add_noise_volume,
    decimate_volume,
    downsample_volume,
    lowdose_ct_volume,
    slice_thickness_volume,
    truncate_kspace_volume,
)
from medsr.degrade_names import VOLUME_LEVEL
from medsr.errors import ConfigError
from medsr.geometry import fov_corners
from medsr.volume import Volume


def _volume(shape=(9, 20, 21), spacing=(1.5, 1.0, 0.8), unit="a.u.", modality="MR") -> Volume:
    c, s = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = (-12.0, 7.5, 3.25)
    arr = np.random.default_rng(0).random((1, *shape)).astype(np.float32)
    return Volume(array=arr, spacing=spacing, affine=affine, modality=modality, unit=unit)


def _world(v: Volume, idx) -> np.ndarray:
    return (v.affine @ np.array([*idx, 1.0]))[:3]


def test_kspace_crop_keeps_the_field_of_view() -> None:
    v = _volume()
    lr = truncate_kspace_volume(v, factor=(1, 2, 2))
    assert lr.shape == (9, 10, 11)
    np.testing.assert_allclose(
        fov_corners(lr.affine, lr.shape), fov_corners(v.affine, v.shape), atol=1e-9
    )
    np.testing.assert_allclose(lr.spacing, (1.5, 2.0, 0.8 * 21 / 11))
    same = truncate_kspace_volume(v, factor=(1, 2, 2), keep_shape=True, window="hamming")
    assert same.shape == v.shape
    np.testing.assert_array_equal(same.affine, v.affine)
    edges = truncate_kspace_volume(v, edge_divisor=(float("inf"), 2.5, 2.5))
    assert edges.shape == (9, 20 - 2 * 8, 21 - 2 * 8)


def test_area_downsampling_geometry() -> None:
    v = _volume(shape=(8, 20, 21))
    lr = downsample_volume(v, factor=(2, 4, 3))
    assert lr.shape == (4, 5, 7)
    np.testing.assert_allclose(
        fov_corners(lr.affine, lr.shape), fov_corners(v.affine, v.shape), atol=1e-9
    )
    # not divisible (21 / 4): the first voxel's outer corner stays, voxel j is the mean of its block
    lr = downsample_volume(v, factor=(1, 1, 4), method="bicubic")
    assert lr.shape == (8, 20, 5)
    np.testing.assert_allclose(
        fov_corners(lr.affine, lr.shape)[0], fov_corners(v.affine, v.shape)[0], atol=1e-9
    )
    block_centre = np.mean([_world(v, (0, 0, 4 * 2 + i)) for i in range(4)], axis=0)
    np.testing.assert_allclose(_world(lr, (0, 0, 2)), block_centre, atol=1e-9)
    np.testing.assert_allclose(lr.spacing, (1.5, 1.0, 3.2))


def test_decimation_puts_voxels_on_the_copied_input_voxel() -> None:
    v = _volume()
    lr = decimate_volume(v, factor=(2, 3, 2), offset=(1, 2, 0))
    np.testing.assert_array_equal(lr.array[0, 1, 2, 3], v.array[0, 3, 8, 6])
    np.testing.assert_allclose(_world(lr, (1, 2, 3)), _world(v, (3, 8, 6)), atol=1e-9)
    np.testing.assert_allclose(lr.spacing, (3.0, 3.0, 1.6))


def test_slice_thickness_geometry_and_spacing_check() -> None:
    v = _volume(shape=(12, 8, 9))
    thick = slice_thickness_volume(v, thickness_mm=4.5, spacing_mm=4.5)
    assert thick.shape == (4, 8, 9)
    np.testing.assert_allclose(thick.spacing, (4.5, 1.0, 0.8))
    np.testing.assert_allclose(
        fov_corners(thick.affine, thick.shape), fov_corners(v.affine, v.shape), atol=1e-9
    )
    with pytest.raises(ConfigError, match="integer multiple"):
        slice_thickness_volume(v, thickness_mm=2.0, spacing_mm=2.0)
    with pytest.raises(ConfigError, match="axis"):
        slice_thickness_volume(v, thickness_mm=2.0, axis=3)


def test_lowdose_ct_volume_checks_unit_and_pixels() -> None:
    ct = _volume(shape=(2, 24, 24), spacing=(2.0, 0.7, 0.7), unit="HU", modality="CT")
    out = lowdose_ct_volume(ct, rng=np.random.default_rng(0), views=30, i0=1e4)
    assert out.shape == ct.shape and out.unit == "HU"
    np.testing.assert_array_equal(out.affine, ct.affine)
    assert not np.allclose(out.array, ct.array)
    with pytest.raises(ConfigError, match="HU"):
        lowdose_ct_volume(_volume(shape=(1, 8, 8)), rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="square"):
        lowdose_ct_volume(_volume(unit="HU", modality="CT"), rng=np.random.default_rng(0))


def test_noise_volume_and_dispatcher() -> None:
    v = _volume(shape=(3, 8, 9))
    noisy = add_noise_volume(v, rng=np.random.default_rng(0), model="rician", sigma=0.1)
    assert noisy.shape == v.shape and noisy.array.min() >= 0
    with pytest.raises(ConfigError, match="noise model"):
        add_noise_volume(v, rng=np.random.default_rng(0), model="speckle")  # type: ignore[arg-type]
    same = degrade_volume(
        v, kind="rician_noise", rng=np.random.default_rng(0), params={"sigma": 0.1}
    )
    np.testing.assert_array_equal(same.array, noisy.array)
    with pytest.raises(ConfigError, match="unknown degradation kind"):
        degrade_volume(v, kind="blur", rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no parameter"):
        degrade_volume(v, kind="gaussian_noise", rng=np.random.default_rng(0), params={"dose": 0.1})
    assert set(kind_parameters("lowdose_ct")) >= {"dose", "i0", "sigma_e", "views"}
    assert "model" not in kind_parameters("gaussian_noise")
    assert tuple(VOLUME_KINDS) == VOLUME_LEVEL
