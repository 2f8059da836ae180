"""``medsr enhance``: formats, folders, DICOM output, records, refusals with one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.cli.main import main
from medsr.data.geometry import fov_corners
from medsr.data.intensity import IntensityNorm
from medsr.degrade.kspace import truncate_kspace
from medsr.io import read_volume
from tests.io.dicom_factory import write_series

from ._models import MDCSRN_KW, SRRESNET2D_KW, SRRESNET3D_KW, checkpoint, rand


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ckpt")
    hu = IntensityNorm(kind="hu-window")
    return {
        "mr2d": checkpoint(d / "mr2d.pt", "srresnet", SRRESNET2D_KW),
        "mr3d": checkpoint(d / "mr3d.pt", "mdcsrn", MDCSRN_KW),
        "ct3d": checkpoint(d / "ct3d.pt", "srresnet", SRRESNET3D_KW, modality="CT", norm=hu),
    }


def _ct_series(folder: Path) -> Path:
    stored = np.rint(rand((4, 12, 10), lo=-1000, hi=1000)).astype(np.int16)
    write_series(
        folder, stored, ipp0=[-30.0, 12.5, 40.0], iop=[1, 0, 0, 0, 1, 0], pixel_spacing=(0.7, 0.9),
        step=[0, 0, 2.5], series_uid="1.2.826.0.1.3680043.2.1125.1", rng=np.random.default_rng(0),
    )  # fmt: skip
    return folder


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("medsr: error:")
    return err


def test_nifti_record_and_overwrite(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    import nibabel as nib

    nib.save(nib.Nifti1Image(rand((10, 9, 7), lo=0, hi=300), np.eye(4)), tmp_path / "t1.nii.gz")
    out = tmp_path / "o" / "sr.nii.gz"
    args = ["enhance", str(tmp_path / "t1.nii.gz"), "--model", str(ckpts["mr2d"]), "-o", str(out)]
    assert main(args) == 0
    rec = json.loads((tmp_path / "o" / "sr.json").read_text())
    digest = hashlib.sha256(ckpts["mr2d"].read_bytes()).hexdigest()
    assert rec["model"]["sha256"] == digest and rec["model"]["name"] == "srresnet"
    assert rec["scale"] == [1, 2, 2] and rec["output_shape"] == [7, 18, 20]
    assert rec["options"]["mode"] == "blended" and rec["options"]["axis"] == 0
    assert nib.load(out).header["descrip"].item().decode().endswith(digest[:10])
    before = out.stat().st_mtime_ns
    assert main(args) == 2 and out.stat().st_mtime_ns == before
    assert main([*args, "--overwrite", "--axis", "2"]) == 0
    assert json.loads((tmp_path / "o" / "sr.json").read_text())["output_shape"] == [14, 18, 10]


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: p / "missing.pt", "checkpoint not found"),
        (lambda p: (torch.save({"weights": torch.zeros(2)}, p / "f.pt"), p / "f.pt")[1], "not a medsr checkpoint"),
        (lambda p: (torch.save({"format": "medsr-checkpoint", "x": _Evil()}, p / "e.pt"), p / "e.pt")[1], "executable pickle"),
    ],
    ids=["missing", "foreign", "pickle"],
)  # fmt: skip
def test_bad_checkpoints_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, needle: str
) -> None:  # type: ignore[no-untyped-def]
    np.save(tmp_path / "img.npy", rand((8, 8)))
    ckpt = make(tmp_path)
    assert (
        main(
            [
                "enhance",
                str(tmp_path / "img.npy"),
                "--model",
                str(ckpt),
                "-o",
                str(tmp_path / "o.npy"),
            ]
        )
        == 2
    )
    assert needle in _err_line(capsys)
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "o.json").exists()


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_3d_model_on_png_and_modality_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path]) -> None:  # fmt: skip
    from PIL import Image

    Image.fromarray((rand((12, 14)) * 255).astype(np.uint8)).save(tmp_path / "x.png")
    assert main(["enhance", str(tmp_path / "x.png"), "--model", str(ckpts["mr3d"]), "-o", str(tmp_path / "y.png")]) == 2  # fmt: skip
    assert "3D model" in _err_line(capsys) and not list(tmp_path.glob("y*"))
    series = _ct_series(tmp_path / "ct")
    args = ["enhance", str(series), "--model", str(ckpts["mr3d"]), "-o", str(tmp_path / "o.nii.gz")]
    assert main(args) == 2
    assert "modality CT differs from the model's MR" in _err_line(capsys)
    assert not (tmp_path / "o.nii.gz").exists()
    assert main([*args, "--force"]) == 0
    assert "warning" in capsys.readouterr().out
    assert json.loads((tmp_path / "o.json").read_text())["warnings"]


def test_png_in_png_out_keeps_the_integer_scale(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    from PIL import Image

    Image.fromarray((rand((12, 14)) * 255).astype(np.uint8)).save(tmp_path / "x.png")
    assert main(["enhance", str(tmp_path / "x.png"), "--model", str(ckpts["mr2d"]), "-o", str(tmp_path / "y.png")]) == 0  # fmt: skip
    with Image.open(tmp_path / "y.png") as img:
        assert img.size == (28, 24) and img.mode == "L"


def test_folder_input_and_dicom_series_output(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    src = tmp_path / "in"
    series = _ct_series(src / "series1")
    np.save(src / "slab.npy", rand((5, 6, 7), lo=-500, hi=500))
    assert (
        main(["enhance", str(src), "--model", str(ckpts["ct3d"]), "-o", str(tmp_path / "out")]) == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "series1.json", "series1.nii.gz", "slab.json", "slab.npy",
    ]  # fmt: skip
    assert np.load(tmp_path / "out" / "slab.npy").shape == (5, 12, 14)
    # DICOM series out: new UIDs, spacing halved in plane, same corners as the NIfTI output
    assert main(["enhance", str(series), "--model", str(ckpts["ct3d"]), "-o", str(tmp_path / "dcm"), "--dicom-out"]) == 0  # fmt: skip
    nifti = read_volume(tmp_path / "out" / "series1.nii.gz")
    back = read_volume(tmp_path / "dcm")
    assert back.modality == "CT" and back.shape == nifti.shape
    np.testing.assert_allclose(
        fov_corners(back.affine, back.shape), fov_corners(nifti.affine, nifti.shape), atol=1e-4
    )
    np.testing.assert_allclose(back.array, np.rint(nifti.array), atol=0.51)  # HU stored as int16
    import pydicom

    first = pydicom.dcmread(sorted((tmp_path / "dcm").iterdir())[0])
    orig = pydicom.dcmread(sorted(series.iterdir())[0])
    assert first.SeriesInstanceUID != orig.SeriesInstanceUID
    assert [float(v) for v in first.PixelSpacing] == pytest.approx([0.35, 0.45])
    assert float(first.SliceThickness) == pytest.approx(2.5)
    assert "medsr srresnet" in first.SeriesDescription and first.ImageType[0] == "DERIVED"


def test_data_consistency_same_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path]) -> None:  # fmt: skip
    hr = rand((8, 12, 10), lo=50, hi=400)
    np.save(tmp_path / "zf.npy", truncate_kspace(hr, spatial_dims=3, factor=(1, 2, 2)))
    base = [
        "enhance",
        str(tmp_path / "zf.npy"),
        "-o",
        str(tmp_path / "o.npy"),
        "--data-consistency",
    ]
    assert main([*base, "--model", str(ckpts["mr3d"]), "--kspace-factor", "1", "2", "2"]) == 0
    dc = json.loads((tmp_path / "o.json").read_text())["data_consistency"]
    assert dc["mode"] == "same-grid" and dc["keep"] == [8, 6, 5]
    assert dc["relative_error_before"] > 1e-3 and dc["relative_error_after"] < 1e-5
    assert "data consistency" in capsys.readouterr().out
    assert main([*base, "--model", str(ckpts["ct3d"]), "--overwrite"]) == 2
    assert "MRI" in _err_line(capsys)
