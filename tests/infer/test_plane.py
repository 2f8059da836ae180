"""2D models run in the acquired plane by default; ``--dicom-out`` keeps world positions for every
orientation and extends the source's SeriesDescription."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.infer.plane import acquired_plane, chosen_plane
from medsr.io import read_volume
from medsr.io.dicom_write import series_description, write_dicom_series
from medsr.volume import Volume
from tests.io.dicom_factory import write_series

AXIAL = (1, 0, 0, 0, 1, 0)
CORONAL = (1, 0, 0, 0, 0, -1)
SAGITTAL = (0, 1, 0, 0, 0, -1)
FLIPPED = (-1, 0, 0, 0, -1, 0)  # axial, rows and columns reversed
_c, _s = np.cos(0.4), np.sin(0.4)
OBLIQUE = (1, 0, 0, 0, _c, _s)


def _series(folder: Path, iop, *, n: int = 4, size: int = 32, description: str = "") -> Path:
    rng = np.random.default_rng(0)
    r = np.hypot(*(np.mgrid[:size, :size] - (size - 1) / 2.0))
    base = np.where(r < 0.4 * size, 40, -1000)
    stored = np.stack([base + rng.integers(-20, 20, base.shape) for _ in range(n)]).astype(np.int16)
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    write_series(
        folder, stored, ipp0=[-20.0, 15.0, 30.0], iop=list(iop), pixel_spacing=(0.8, 0.8),
        step=normal * 3.0, series_uid="1.2.3.99", rng=rng, first_instance=1,
    )  # fmt: skip
    if description:
        import pydicom

        for f in folder.iterdir():
            ds = pydicom.dcmread(f)
            ds.SeriesDescription = description
            ds.save_as(f)
    return folder


@pytest.mark.parametrize(
    ("iop", "axis", "plane"),
    [(AXIAL, 0, "axial"), (CORONAL, 1, "coronal"), (SAGITTAL, 2, "sagittal")],
)
def test_dicom_series_plane_is_the_slice_normal(tmp_path: Path, iop, axis: int, plane: str) -> None:
    vol = read_volume(_series(tmp_path / "s", iop, size=8))
    found = acquired_plane(vol)
    assert (found.axis, found.plane, found.source) == (axis, plane, "DICOM slice normal")
    assert vol.shape[axis] == 4  # the four acquired slices lie along that axis


def test_other_volumes_use_the_coarsest_axis() -> None:
    def vol(spacing: tuple[float, float, float]) -> Volume:
        return Volume(array=np.zeros((1, 6, 7, 8), np.float32), spacing=spacing, affine=np.eye(4))

    assert acquired_plane(vol((1.0, 1.0, 5.0))).axis == 2
    assert acquired_plane(vol((1.0, 4.0, 1.0))).source == "coarsest axis"
    iso = acquired_plane(vol((1.0, 1.0, 1.1)))
    assert (iso.axis, iso.source) == (0, "default")
    assert chosen_plane(vol((1.0, 1.0, 5.0)), 1).axis == 1  # --axis wins
    flat = Volume(array=np.zeros((1, 1, 7, 8), np.float32), spacing=(9.0, 1, 1), affine=np.eye(4))
    assert acquired_plane(flat).axis == 0


def test_2d_model_on_a_sagittal_series_runs_sagittal(tmp_path: Path, capsys) -> None:
    # the case: a 2D CT model on four sagittal slices ran across the slices before
    src = _series(tmp_path / "sag", SAGITTAL, description="CT SAG BONE")
    out = tmp_path / "o.nii.gz"
    assert main(["enhance", str(src), "--model", "dfgan-ct-qd", "-o", str(out)]) == 0
    assert "2D model on sagittal slices (axis 2, W; DICOM slice normal)" in capsys.readouterr().out
    rec = json.loads((tmp_path / "o.json").read_text())
    assert rec["plane"] == {"axis": 2, "plane": "sagittal", "source": "DICOM slice normal"}
    assert rec["options"]["axis"] == 2
    explicit = tmp_path / "x.nii.gz"
    args = ["enhance", str(src), "--model", "dfgan-ct-qd", "-o", str(explicit), "--axis", "2"]
    assert main(args) == 0
    np.testing.assert_array_equal(read_volume(out).array, read_volume(explicit).array)
    assert json.loads((tmp_path / "x.json").read_text())["plane"]["source"] == "--axis"
    # --dicom-out: the source's description is extended, not replaced
    dcm = tmp_path / "dcm"
    assert main(["enhance", str(src), "--model", "dfgan-ct-qd", "-o", str(dcm), "--dicom-out"]) == 0
    import pydicom

    first = pydicom.dcmread(sorted(dcm.iterdir())[0])
    assert first.SeriesDescription.startswith("CT SAG BONE | medsr dfgan_unet")
    assert "source series: CT SAG BONE" in first.DerivationDescription
    back = read_volume(dcm)
    np.testing.assert_allclose(back.affine, read_volume(src).affine, atol=1e-4)


@pytest.mark.parametrize(
    "iop",
    [AXIAL, FLIPPED, OBLIQUE, SAGITTAL, CORONAL],
    ids=["axial", "flipped", "oblique", "sagittal", "coronal"],
)
def test_dicom_out_round_trip_keeps_world_positions(tmp_path: Path, iop) -> None:
    import pydicom

    src = read_volume(_series(tmp_path / "in", iop, n=3, size=6))
    write_dicom_series(src, tmp_path / "out", description="medsr test", derivation="test")
    back = read_volume(tmp_path / "out")
    assert back.shape == src.shape
    np.testing.assert_allclose(back.affine, src.affine, atol=1e-4)
    np.testing.assert_allclose(back.array, src.array, atol=0.51)
    # every output slice sits where the source slice with the same content sits
    by_content = {}
    for f in (tmp_path / "in").iterdir():
        ds = pydicom.dcmread(f)
        by_content[ds.pixel_array.tobytes()] = np.asarray(ds.ImagePositionPatient, float)
    for f in (tmp_path / "out").iterdir():
        ds = pydicom.dcmread(f)
        np.testing.assert_allclose(
            np.asarray(ds.ImagePositionPatient, float),
            by_content[ds.pixel_array.tobytes()],
            atol=1e-4,
        )


def test_series_description_is_extended_within_64_characters() -> None:
    ours = "medsr dfgan_unet x1x1x1 0123456789"
    assert series_description("", ours) == ours
    assert series_description("CT HEAD", ours) == f"CT HEAD | {ours}"
    long = series_description("A" * 60, ours)
    assert len(long) == 64 and long.endswith(ours) and long.startswith("AAAAAAAAAAAA")
    assert len(series_description("B" * 60, "m" * 60)) == 64


def _nifti_with_slice_dim(path: Path, slice_dim: int | None) -> Path:
    """An isotropic NIfTI stored (A, S, R): file axis k runs left-right (sagittal slices)."""
    import nibabel as nib

    affine = np.array([[0, 0, 1, -6], [1, 0, 0, -8], [0, 1, 0, -5], [0, 0, 0, 1]], float)
    data = np.random.default_rng(1).random((16, 10, 6)).astype(np.float32) * 100
    img = nib.Nifti1Image(data, affine)
    if slice_dim is not None:
        img.header.set_dim_info(slice=slice_dim)
    nib.save(img, path)
    return path


def test_nifti_slice_axis_recorded_in_the_header_is_the_plane(tmp_path: Path) -> None:
    import nibabel as nib

    from medsr.io import write_volume

    vol = read_volume(_nifti_with_slice_dim(tmp_path / "sag.nii.gz", 2))
    assert vol.shape == (10, 16, 6)  # (D, H, W): S, A, R
    found = acquired_plane(vol)
    assert (found.axis, found.plane, found.source) == (2, "sagittal", "NIfTI slice_dim")
    plain = acquired_plane(read_volume(_nifti_with_slice_dim(tmp_path / "iso.nii.gz", None)))
    assert (plain.axis, plain.source) == (0, "default")  # isotropic, nothing recorded
    # written back in the file's order, the header keeps the slice axis
    write_volume(vol, tmp_path / "back.nii.gz")
    assert nib.load(tmp_path / "back.nii.gz").header.get_dim_info()[2] == 2
    assert acquired_plane(read_volume(tmp_path / "back.nii.gz")).source == "NIfTI slice_dim"


def test_2d_model_on_a_nifti_runs_in_its_recorded_slice_plane(tmp_path: Path, capsys) -> None:
    from tests.infer._models import SRRESNET2D_KW, checkpoint

    model = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET2D_KW)
    src = _nifti_with_slice_dim(tmp_path / "sag.nii.gz", 2)
    out = tmp_path / "o.nii.gz"
    assert main(["enhance", str(src), "--model", str(model), "-o", str(out)]) == 0
    assert "2D model on sagittal slices (axis 2, W; NIfTI slice_dim)" in capsys.readouterr().out
    assert read_volume(out).shape == (20, 32, 6)  # D and H refined, the 6 slices kept
    assert json.loads((tmp_path / "o.json").read_text())["plane"]["source"] == "NIfTI slice_dim"
