"""``medsr baseline``: output geometry in world coordinates, sidecar, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.geometry import fov_corners

nib = pytest.importorskip("nibabel")


@pytest.fixture
def lowres(tmp_path: Path) -> Path:
    affine = np.array([[-1.2, 0, 0, 30.0], [0, 1.1, 0, -20.0], [0, 0, 3.0, 10.0], [0, 0, 0, 1]])
    data = np.random.default_rng(0).random((9, 8, 5)).astype(np.float32)
    path = tmp_path / "lr.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def test_cubic_upsampling_keeps_world_fov_and_writes_sidecar(
    lowres: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "up.nii.gz"
    # (D, H, W) order: D is the superior axis (NIfTI z here), refine it 3x and W (x) 2x
    assert main(["baseline", "cubic", str(lowres), "-o", str(out), "--scale", "3", "1", "2"]) == 0
    assert str(out) in capsys.readouterr().out
    src, res = nib.load(str(lowres)), nib.load(str(out))
    assert res.shape == (18, 8, 15)
    np.testing.assert_allclose(
        fov_corners(res.affine, res.shape), fov_corners(src.affine, src.shape), atol=1e-4
    )
    np.testing.assert_allclose(nib.affines.voxel_sizes(res.affine), (0.6, 1.1, 1.0), atol=1e-6)
    side = json.loads((tmp_path / "up.json").read_text())
    assert side["kind"] == "baseline" and side["name"] == "cubic" and side["scale"] == [3, 1, 2]


def test_denoiser_needs_no_scale_and_existing_output_is_refused(
    lowres: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "same.nii.gz"
    assert main(["baseline", "identity", str(lowres), "-o", str(out)]) == 0
    np.testing.assert_allclose(
        nib.load(str(out)).get_fdata(), nib.load(str(lowres)).get_fdata(), atol=1e-6
    )
    capsys.readouterr()
    assert main(["baseline", "identity", str(lowres), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["baseline", "identity", str(lowres), "-o", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["cubic"], "pass --scale"),
        (["cubic", "--scale", "2", "2"], "1 or 3 integers"),
        (["cubik", "--scale", "2"], "did you mean 'cubic'"),
        (["identity", "--scale", "2"], "takes no scale"),
    ],
)
def test_bad_arguments_are_one_line_exit_2_without_output(
    lowres: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    out = tmp_path / "o.nii.gz"
    assert main(["baseline", argv[0], str(lowres), "-o", str(out), *argv[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "o.json").exists()


def test_missing_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.nii.gz"
    assert (
        main(["baseline", "linear", str(missing), "-o", str(tmp_path / "o.nii.gz"), "--scale", "2"])
        == 2
    )
    assert "none.nii.gz" in capsys.readouterr().err


@pytest.fixture
def noisy_ct(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    data = np.full((48, 40, 1), 40.0) + 30.0 * rng.standard_normal((48, 40, 1))
    path = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), str(path))
    return path


@pytest.mark.parametrize("name", ["nlm", "bm3d"])
def test_denoiser_sidecar_records_the_sigma_used(
    name: str, noisy_ct: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("skimage" if name == "nlm" else "bm3d")
    out = tmp_path / f"{name}.nii.gz"
    assert main(["baseline", name, str(noisy_ct), "-o", str(out)]) == 0
    side = json.loads((tmp_path / f"{name}.json").read_text())
    assert side["sigma_source"] == "estimated" and 20.0 < side["sigma"] < 40.0  # 30 HU white
    assert (
        main(["baseline", name, str(noisy_ct), "-o", str(out), "--sigma", "12.5", "--overwrite"])
        == 0
    )
    side = json.loads((tmp_path / f"{name}.json").read_text())
    assert side["sigma"] == 12.5 and side["sigma_source"] == "given"
    assert "noise sigma 12.5 (given)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["cubic", "--scale", "2", "--sigma", "5"], "takes no --sigma"),
        (["identity", "--sigma", "5"], "takes no --sigma"),
        (["bm3d", "--sigma", "-1"], "--sigma must be a finite number >= 0"),
        (["nlm", "--sigma", "inf"], "--sigma must be a finite number >= 0"),
    ],
)
def test_bad_sigma_is_one_line_exit_2(
    noisy_ct: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    out = tmp_path / "o.nii.gz"
    assert main(["baseline", argv[0], str(noisy_ct), "-o", str(out), *argv[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()
