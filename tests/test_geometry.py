"""Grid geometry: spacing, FOV-preserving refinement, corners."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.data import Volume
from medsr.geometry import (
    affine_from_spacing,
    crop_affine,
    fov_corners,
    rescale_affine,
    spacing_from_affine,
)


def _oblique_affine() -> np.ndarray:
    theta = np.deg2rad(17.0)
    rot = np.array(
        [[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0.0, 0.0, 1.0]]
    )
    a = np.eye(4)
    a[:3, :3] = rot @ np.diag([1.5, 0.9, 1.2])
    a[:3, 3] = [-90.0, 12.5, 40.0]
    return a


@pytest.mark.parametrize("factor", [(2, 2, 1), (1, 3, 2), (4, 4, 4), (0.5, 1, 0.25)])
def test_rescale_keeps_fov_corners(factor: tuple[float, float, float]) -> None:
    a = _oblique_affine()
    shape = (8, 12, 16)
    new_shape = tuple(int(n * f) for n, f in zip(shape, factor, strict=True))
    new = rescale_affine(a, factor)
    np.testing.assert_allclose(fov_corners(new, new_shape), fov_corners(a, shape), atol=1e-9)
    np.testing.assert_allclose(
        spacing_from_affine(new), np.array(spacing_from_affine(a)) / np.array(factor), rtol=1e-12
    )


def test_rescale_identity_and_voxel_centres() -> None:
    a = _oblique_affine()
    np.testing.assert_allclose(rescale_affine(a, (1, 1, 1)), a)
    # x2 refinement: the two new voxels of old voxel 0 sit at -0.25 and +0.25 old voxels.
    new = rescale_affine(affine_from_spacing((1.0, 1.0, 1.0)), (2, 2, 2))
    np.testing.assert_allclose((new @ [0, 0, 0, 1])[:3], [-0.25] * 3)
    np.testing.assert_allclose((new @ [1, 1, 1, 1])[:3], [0.25] * 3)


def test_rescale_rejects_bad_factor() -> None:
    with pytest.raises(ValueError, match="positive"):
        rescale_affine(np.eye(4), (2, 0, 1))


def test_crop_affine_moves_origin() -> None:
    a = _oblique_affine()
    c = crop_affine(a, (2, 3, 4))
    np.testing.assert_allclose((c @ [0, 0, 0, 1])[:3], (a @ [2, 3, 4, 1])[:3])


def test_volume_regrid_and_validation() -> None:
    v = Volume(
        array=np.zeros((1, 5, 6, 7), np.float32),
        spacing=(1.5, 0.9, 1.2),
        affine=_oblique_affine(),
    )
    up = v.regrid(np.zeros((1, 10, 12, 7), np.float32))
    np.testing.assert_allclose(up.spacing, (0.75, 0.45, 1.2))
    np.testing.assert_allclose(fov_corners(up.affine, up.shape), fov_corners(v.affine, v.shape))
    with pytest.raises(ValueError, match="keeps the grid"):
        v.with_array(np.zeros((1, 5, 6, 8), np.float32))
    with pytest.raises(ValueError, match="zero-size"):
        Volume(array=np.zeros((1, 0, 2, 2)), spacing=(1, 1, 1), affine=np.eye(4))
    with pytest.raises(ValueError, match="modality"):
        Volume(array=np.zeros((1, 1, 2, 2)), spacing=(1, 1, 1), affine=np.eye(4), modality="PET")
    bad = v.with_array(np.full((1, 5, 6, 7), np.nan, np.float32))
    with pytest.raises(ValueError, match="210 NaN/Inf"):
        bad.check_finite()
