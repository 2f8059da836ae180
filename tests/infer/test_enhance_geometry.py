"""Geometry of enhanced volumes: field-of-view corners kept, spacing divided by the scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch.nn.functional as F

from medsr.geometry import fov_corners
from medsr.infer.enhance import EnhanceOptions, enhance_files
from medsr.infer.predictor import Predictor
from medsr.volume import Volume

from ._models import SRRESNET3D_KW, checkpoint, rand, spec


def _oblique_affine() -> np.ndarray:
    a, b = 0.3, -0.2
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rz @ rx @ np.diag([2.5, 0.9, 0.7])
    aff[:3, 3] = [-40.0, 12.0, 7.5]
    return aff


def _nearest(scale: tuple[int, ...]):  # type: ignore[no-untyped-def]
    return lambda t: F.interpolate(t, scale_factor=scale, mode="nearest")


@pytest.mark.parametrize("scale", [(2, 2, 2), (1, 2, 2), (3, 1, 2)])
def test_corners_kept_spacing_divided(scale: tuple[int, int, int]) -> None:
    x = rand((1, 5, 7, 6))
    vol = Volume(array=x, spacing=(2.5, 0.9, 0.7), affine=_oblique_affine())
    out = Predictor(_nearest(scale), spec=spec(3, scale), window=4, overlap=0.5)(vol)
    assert out.shape == tuple(n * s for n, s in zip(vol.shape, scale))
    np.testing.assert_allclose(
        fov_corners(out.affine, out.shape), fov_corners(vol.affine, vol.shape), atol=1e-9
    )
    np.testing.assert_allclose(out.spacing, np.divide(vol.spacing, scale), rtol=1e-12)
    # same directions; output voxel j sits at input index (j + 1/2) / s - 1/2
    idx = np.array([[3.0, 5.0, 2.0, 1.0]]).T
    back = np.linalg.inv(vol.affine) @ out.affine @ idx
    np.testing.assert_allclose(back[:3, 0], (idx[:3, 0] + 0.5) / np.array(scale) - 0.5, atol=1e-12)
    # a nearest upsampler puts input voxel i's value on every output voxel inside it
    np.testing.assert_array_equal(out.array[0, :: scale[0], :: scale[1], :: scale[2]], x[0])


def test_2d_model_along_an_axis_scales_the_other_two() -> None:
    x = rand((1, 5, 7, 6))
    vol = Volume(array=x, spacing=(2.5, 0.9, 0.7), affine=_oblique_affine())
    p = Predictor(_nearest((2, 2)), spec=spec(2, (1, 2, 2)), axis=1, window=4)
    out = p(vol)
    assert p.volume_scale(vol) == (2, 1, 2) and out.shape == (10, 7, 12)
    np.testing.assert_allclose(
        fov_corners(out.affine, out.shape), fov_corners(vol.affine, vol.shape), atol=1e-9
    )


def test_nifti_round_trip_keeps_orientation_and_corners(tmp_path: Path) -> None:
    import nibabel as nib

    ckpt = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET3D_KW)
    # LPI-ordered file with an oblique affine (not canonical RAS)
    aff = _oblique_affine() @ np.diag([-1.0, -1.0, 1.0, 1.0])
    data = rand((9, 8, 6), lo=0, hi=500)
    nib.save(nib.Nifti1Image(data, aff), tmp_path / "in.nii.gz")
    enhance_files([tmp_path / "in.nii.gz"], model=ckpt, output=tmp_path / "out.nii.gz",
                  options=EnhanceOptions(window=8))  # fmt: skip
    img_in, img_out = nib.load(tmp_path / "in.nii.gz"), nib.load(tmp_path / "out.nii.gz")
    assert nib.aff2axcodes(img_out.affine) == nib.aff2axcodes(img_in.affine)
    # the (1, 2, 2) model scales canonical (D, H, W) = file axes (k, j, i) by (1, 2, 2)
    assert img_out.shape == (18, 16, 6)
    np.testing.assert_allclose(
        fov_corners(img_out.affine, img_out.shape),
        fov_corners(img_in.affine, img_in.shape),
        atol=1e-4,
    )
    assert img_out.header["descrip"].item().decode().startswith("medsr srresnet x1x2x2")
