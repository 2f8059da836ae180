"""NIfTI: canonical reading, round trips that keep orientation, geometry after regrid."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr.geometry import fov_corners
from medsr.io import read_volume, write_volume


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    def rot(i: int, j: int, t: float) -> np.ndarray:
        m = np.eye(3)
        m[i, i] = m[j, j] = np.cos(t)
        m[i, j], m[j, i] = -np.sin(t), np.sin(t)
        return m

    return rot(0, 1, a) @ rot(1, 2, b) @ rot(0, 2, c)


def _affine(kind: str) -> np.ndarray:
    aff = np.eye(4)
    if kind == "ras":
        aff[:3, :3] = np.diag([1.0, 1.5, 2.0])
    elif kind == "lps":  # x towards left, y towards posterior
        aff[:3, :3] = np.diag([-0.8, -1.2, 2.5])
    elif kind == "pil":  # permuted: i -> posterior, j -> inferior, k -> left
        aff[:3, :3] = np.array([[0, 0, -1.1], [-0.9, 0, 0], [0, -2.0, 0]])
    else:  # oblique
        aff[:3, :3] = _rotation(0.3, -0.2, 0.15) @ np.diag([0.9, 1.3, 2.2])
    aff[:3, 3] = [12.0, -30.5, 7.25]
    return aff


def _save(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(7, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("kind", ["ras", "lps", "pil", "oblique"])
def test_reader_is_canonical_and_affine_is_exact(
    tmp_path: Path, data: np.ndarray, kind: str
) -> None:
    aff = _affine(kind)
    vol = read_volume(_save(tmp_path / "a.nii.gz", data, aff))
    assert vol.array.dtype == np.float32 and vol.array.shape[0] == 1
    # each voxel value keeps its world position
    for ijk in [(0, 0, 0), (6, 5, 4), (3, 1, 2)]:
        (d, h, w) = np.argwhere(vol.array[0] == data[ijk])[0]
        np.testing.assert_allclose(vol.affine @ [d, h, w, 1], aff @ [*ijk, 1], atol=1e-5)
    # D, H, W point (mostly) towards S, A, R
    dominant = np.argmax(np.abs(vol.affine[:3, :3]), axis=0)
    assert dominant.tolist() == [2, 1, 0]
    assert np.all(np.diag(vol.affine[:3, :3][[2, 1, 0]]) > 0)
    assert vol.meta["nifti_axcodes"] == "".join(nib.aff2axcodes(aff))


@pytest.mark.parametrize("kind", ["ras", "lps", "pil", "oblique"])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_round_trip_restores_voxel_order(
    tmp_path: Path, data: np.ndarray, kind: str, ext: str
) -> None:
    aff = _affine(kind)
    vol = read_volume(_save(tmp_path / f"in{ext}", data, aff))
    out = write_volume(vol, tmp_path / f"out{ext}", description="round trip")
    img = nib.load(out)
    np.testing.assert_array_equal(np.asarray(img.dataobj), data)
    np.testing.assert_allclose(img.affine, aff, atol=1e-5)
    assert nib.aff2axcodes(img.affine) == nib.aff2axcodes(aff)
    assert img.header["descrip"].item() == b"round trip"
    again = read_volume(out)
    np.testing.assert_array_equal(again.array, vol.array)
    np.testing.assert_allclose(again.affine, vol.affine, atol=1e-5)


@pytest.mark.parametrize("factor", [(2, 2, 1), (1, 3, 2)])
@pytest.mark.parametrize("kind", ["lps", "oblique"])
def test_regrid_keeps_fov_corners(
    tmp_path: Path, data: np.ndarray, kind: str, factor: tuple
) -> None:
    aff = _affine(kind)
    vol = read_volume(_save(tmp_path / "a.nii", data, aff))
    fine = np.zeros([n * f for n, f in zip(vol.shape, factor)], dtype=np.float32)
    up = vol.regrid(fine)
    np.testing.assert_allclose(np.asarray(up.spacing) * factor, vol.spacing, rtol=1e-6)
    out = write_volume(up, tmp_path / "up.nii.gz")
    back = read_volume(out)
    assert back.shape == up.shape
    np.testing.assert_allclose(
        fov_corners(back.affine, back.shape), fov_corners(vol.affine, vol.shape), atol=1e-4
    )
    # independent of medsr's axis bookkeeping: the files' own corners agree as point sets
    img_in, img_out = nib.load(tmp_path / "a.nii"), nib.load(out)
    c_in = fov_corners(img_in.affine, img_in.shape)
    c_out = fov_corners(img_out.affine, img_out.shape)
    np.testing.assert_allclose(np.sort(c_out, axis=0), np.sort(c_in, axis=0), atol=1e-4)
    assert nib.aff2axcodes(img_out.affine) == nib.aff2axcodes(aff)


def test_singleton_fourth_axis_is_squeezed(tmp_path: Path, data: np.ndarray) -> None:
    vol = read_volume(_save(tmp_path / "a.nii.gz", data[..., None], _affine("ras")))
    assert vol.shape == (5, 6, 7)
    np.testing.assert_array_equal(vol.array[0], data.transpose(2, 1, 0))


def test_scaled_integer_data_and_ct_modality(tmp_path: Path) -> None:
    raw = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    img = nib.Nifti1Image(raw, np.eye(4))
    img.header.set_slope_inter(2.0, -1024.0)
    nib.save(img, tmp_path / "ct.nii")
    vol = read_volume(tmp_path / "ct.nii", modality="CT")
    assert vol.unit == "HU" and vol.modality == "CT"
    np.testing.assert_allclose(vol.array[0], raw.transpose(2, 1, 0) * 2.0 - 1024.0)


def test_volume_without_meta_writes_its_affine(tmp_path: Path) -> None:
    from medsr.data import Volume

    arr = np.random.default_rng(1).random((1, 3, 4, 5)).astype(np.float32)
    aff = np.array([[0, 0, 0.5, 1], [0, 2.0, 0, 2], [3.0, 0, 0, 3], [0, 0, 0, 1]])
    vol = Volume(array=arr, spacing=(3.0, 2.0, 0.5), affine=aff)
    back = read_volume(write_volume(vol, tmp_path / "v.nii.gz"))
    np.testing.assert_array_equal(back.array, arr)
    np.testing.assert_allclose(back.affine, aff)


def test_complex_nifti_is_refused_not_truncated_to_its_real_part(tmp_path: Path) -> None:
    from medsr.errors import InputError

    data = (np.ones((4, 5, 3)) + 2j * np.ones((4, 5, 3))).astype(np.complex64)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "c.nii.gz")
    with pytest.raises(
        InputError, match=r"c\.nii\.gz: complex-valued image \(complex64\).*magnitude"
    ):
        read_volume(tmp_path / "c.nii.gz")
    nib.save(nib.Nifti1Image(np.abs(data), np.eye(4)), tmp_path / "m.nii.gz")  # the fix it names
    np.testing.assert_allclose(read_volume(tmp_path / "m.nii.gz").array, np.sqrt(5), rtol=1e-6)


@pytest.mark.parametrize(
    ("fields", "kind"), [("RGB", "RGB"), ("RGBA", "RGBA")], ids=["rgb24", "rgba32"]
)
def test_colour_nifti_is_refused(tmp_path: Path, fields: str, kind: str) -> None:
    from medsr.errors import InputError

    data = np.zeros((4, 5, 3), dtype=[(c, "u1") for c in fields])
    img = nib.Nifti1Image(data, np.eye(4))
    assert img.header.get_data_dtype().names == tuple(fields)
    nib.save(img, tmp_path / "rgb.nii")
    with pytest.raises(InputError, match=rf"rgb\.nii: {kind} colour image; .*one channel"):
        read_volume(tmp_path / "rgb.nii")


def test_non_finite_hint_names_only_what_a_user_can_do(tmp_path: Path) -> None:
    from medsr.errors import InputError

    data = np.ones((4, 5, 3), dtype=np.float32)
    data[1, 2, 0] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(InputError, match=r"1 NaN/Inf voxels of 60; replace them") as info:
        read_volume(tmp_path / "nan.nii.gz")
    assert "allow_nonfinite" not in str(info.value) and "=True" not in str(info.value)
