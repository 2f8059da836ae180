"""``medsr degrade`` / ``medsr baseline`` sidecars: geometry in ``(D, H, W)`` and in the file's order.

The sidecar's ``output_affine`` / ``output_shape_file`` must be what nibabel reports for the written
file (voxel ``(i, j, k)``, the reverse of medsr's ``(D, H, W)``, in the source's own axis order),
also for a non-cubic, oblique, anisotropic source stored in a non-RAS order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medsr.cli.main import main
from medsr.io import read_volume


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@pytest.fixture
def oblique(tmp_path: Path) -> Path:
    """A 10 x 14 x 6 file (i, j, k): i mostly posterior, j mostly inferior, k mostly left
    (axis codes PIL, not RAS), rotated ~17 degrees, spacing 0.9 / 1.3 / 2.5 mm."""
    base = np.array([[0, 0, -1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)  # columns: i, j, k
    rot = _rotation(np.array([0.3, -0.5, 0.8]), np.deg2rad(17.0))
    affine = np.eye(4)
    affine[:3, :3] = rot @ base @ np.diag([0.9, 1.3, 2.5])
    affine[:3, 3] = (12.0, -30.5, 7.25)
    data = np.random.default_rng(1).random((10, 14, 6)).astype(np.float32)
    path = tmp_path / "oblique.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), str(path))
    assert nib.aff2axcodes(affine) == ("P", "I", "L")
    return path


def _check_file_order(record: dict, out: Path) -> None:
    img: Any = nib.load(str(out))
    np.testing.assert_allclose(record["output_affine"], img.affine, atol=1e-5)
    assert record["output_shape_file"] == list(img.shape)
    np.testing.assert_allclose(record["output_spacing_file"], img.header.get_zooms()[:3], atol=1e-5)
    vol = read_volume(out)
    assert record["output_shape"] == list(vol.shape)
    np.testing.assert_allclose(record["output_affine_dhw"], vol.affine, atol=1e-5)
    np.testing.assert_allclose(record["output_spacing"], vol.spacing, atol=1e-5)
    # output_file_axes names which (D, H, W) axis each file axis holds
    dhw = dict(zip("DHW", record["output_shape"], strict=True))
    assert [dhw[a] for a in record["output_file_axes"]] == record["output_shape_file"]


@pytest.mark.parametrize(
    ("flags", "shape", "file_shape"),
    [
        (["--kind", "gaussian_noise", "--sigma", "0.1"], [14, 10, 6], [10, 14, 6]),
        # factors are (D, H, W); the file's (i, j, k) hold (H, D, W)
        (["--kind", "decimate", "--factor", "1", "2", "3"], [14, 5, 2], [5, 14, 2]),
        (["--kind", "kspace_truncate", "--factor", "2", "1", "1"], [7, 10, 6], [10, 7, 6]),
    ],
)
def test_degrade_sidecar_matches_nibabel(
    oblique: Path, tmp_path: Path, flags: list[str], shape: list[int], file_shape: list[int]
) -> None:
    out = tmp_path / "lr.nii.gz"
    assert main(["degrade", str(oblique), "-o", str(out), *flags]) == 0
    record = json.loads((tmp_path / "lr.json").read_text())
    _check_file_order(record, out)
    assert record["output_shape"] == shape and record["output_shape_file"] == file_shape
    assert record["input_shape"] == [14, 10, 6] and record["input_shape_file"] == [10, 14, 6]
    # the source's order is kept: its P, I, L axes hold (H, D, W)
    assert record["output_file_axes"] == ["H", "D", "W"]
    assert nib.aff2axcodes(np.asarray(record["output_affine"])) == ("P", "I", "L")
    assert not np.allclose(record["output_affine"], record["output_affine_dhw"])


def test_degrade_sidecar_ras_source(tmp_path: Path) -> None:
    """A RAS+ source: the file order is exactly (W, H, D), the index columns reversed."""
    affine = np.diag([0.8, 1.1, 3.0, 1.0])
    affine[:3, 3] = (-5.0, 2.0, 9.0)
    src = tmp_path / "ras.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((12, 9, 5), np.float32), affine), str(src))
    out = tmp_path / "o.nii"
    assert (
        main(
            [
                "degrade",
                str(src),
                "-o",
                str(out),
                "--kind",
                "downsample_area",
                "--factor",
                "1",
                "1",
                "2",
            ]
        )
        == 0
    )
    record = json.loads((tmp_path / "o.json").read_text())
    _check_file_order(record, out)
    assert record["output_file_axes"] == ["W", "H", "D"]
    assert record["output_shape"] == [5, 9, 6] and record["output_shape_file"] == [6, 9, 5]
    np.testing.assert_allclose(
        record["output_affine"], np.asarray(record["output_affine_dhw"])[:, [2, 1, 0, 3]]
    )


def test_degrade_sidecar_npy_output(oblique: Path, tmp_path: Path) -> None:
    out = tmp_path / "lr.npy"
    assert (
        main(
            ["degrade", str(oblique), "-o", str(out), "--kind", "gaussian_noise", "--sigma", "0.1"]
        )
        == 0
    )
    record = json.loads((tmp_path / "lr.json").read_text())
    # one NPY layout for every command (issue 14): one channel is stored (D, H, W), as enhance does
    assert record["output_file_axes"] == ["D", "H", "W"]
    assert record["output_shape_file"] == list(np.load(out).shape) == record["output_shape"]
    assert record["output_affine"] is None and record["output_spacing_file"] is None
    np.testing.assert_allclose(record["output_affine_dhw"], read_volume(oblique).affine, atol=1e-5)


def test_degrade_sidecar_png_output(tmp_path: Path) -> None:
    src = tmp_path / "x.png"
    Image.fromarray(np.arange(35 * 20, dtype=np.uint8).reshape(35, 20)).save(src)
    out = tmp_path / "o.png"
    assert (
        main(["degrade", str(src), "-o", str(out), "--kind", "decimate", "--factor", "1", "1", "2"])
        == 0
    )
    record = json.loads((tmp_path / "o.json").read_text())
    assert record["output_file_axes"] == ["H", "W"]
    assert record["output_shape"] == [1, 35, 10]
    assert record["output_shape_file"] == list(np.asarray(Image.open(out)).shape) == [35, 10]
    assert record["output_affine"] is None and record["input_shape_file"] is None


def test_baseline_sidecar_matches_nibabel(oblique: Path, tmp_path: Path) -> None:
    out = tmp_path / "up.nii.gz"
    assert main(["baseline", "linear", str(oblique), "-o", str(out), "--scale", "1", "2", "1"]) == 0
    record = json.loads((tmp_path / "up.json").read_text())
    _check_file_order(record, out)
    assert record["output_file_axes"] == ["H", "D", "W"]
    assert record["input_shape_file"] == [10, 14, 6]
    assert record["output_shape_file"] == [20, 14, 6]
