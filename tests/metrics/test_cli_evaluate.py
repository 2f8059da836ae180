"""``medsr evaluate``: table, JSON and CSV outputs, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.metrics.protocols import get_protocol

nib = pytest.importorskip("nibabel")


def _write(
    path: Path, array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> str:
    nib.save(nib.Nifti1Image(array.astype(np.float32), np.diag([*spacing, 1.0])), str(path))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    ref = (100 * rng.random((14, 15, 16))).astype(np.float32)
    pred = ref + rng.standard_normal(ref.shape).astype(np.float32)
    return {
        "ref": _write(tmp_path / "sub01.nii.gz", ref),
        "ref2": _write(tmp_path / "sub02.nii.gz", ref[::-1].copy()),
        "pred": _write(tmp_path / "pred01.nii.gz", pred),
        "pred2": _write(tmp_path / "pred02.nii.gz", ref[::-1] + 2.0),
        "short": _write(tmp_path / "short.nii.gz", ref[:, :, :12]),
        "coarse": _write(tmp_path / "coarse.nii.gz", pred, spacing=(1.0, 1.0, 2.0)),
        "ref_arr": ref,  # type: ignore[dict-item]
        "pred_arr": pred,  # type: ignore[dict-item]
    }


def test_evaluate_prints_table_and_writes_json_csv(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res"
    argv = ["evaluate", files["pred"], files["pred2"], "--ref", files["ref"], files["ref2"]]
    code = main([*argv, "--protocol", "fastmri", "--method", "mine", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "sub01" in text and "sub02" in text and "mine" in text and "+-" in text
    doc = json.loads((out / "metrics.json").read_text())
    assert [c["case"] for c in doc["cases"]] == ["sub01", "sub02"]
    ref = np.asarray(files["ref_arr"], dtype=np.float64)
    pred = np.asarray(files["pred_arr"], dtype=np.float64)
    # the reader transposes NIfTI (x, y, z) to (D, H, W); metrics do not depend on axis order
    # except SSIM's window, which is isotropic, so the numbers match the direct computation
    expected = get_protocol("fastmri").evaluate(pred, ref)
    for k, v in expected.items():  # HFEN filters in float32: rounding depends on the axis order
        rel = 1e-5 if k == "hfen" else 1e-9
        assert doc["cases"][0]["metrics"][k] == pytest.approx(v, rel=rel)
    assert doc["summary"][0]["n"] == 2
    csv_lines = (out / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == "case,method,protocol,psnr,ssim,nrmse,mae,hfen" and len(csv_lines) == 3
    assert (out / "summary.csv").read_text().startswith("method,protocol,n,")
    # a second run refuses to overwrite, then replaces with --overwrite
    assert main([*argv, "--protocol", "fastmri", "--out", str(out)]) == 2
    assert main([*argv, "--protocol", "unit-range", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "metrics.json").read_text())["cases"][0]["protocol"] == "unit-range"


@pytest.mark.parametrize(
    ("pred_key", "needle"),
    [("short", "(12, 15, 14)"), ("coarse", "(2, 1, 1) mm")],
)
def test_shape_or_spacing_mismatch_is_one_line_exit_2(
    files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pred_key: str,
    needle: str,
) -> None:
    out = tmp_path / "res"
    code = main(
        [
            "evaluate",
            files[pred_key],
            "--ref",
            files["ref"],
            "--protocol",
            "fastmri",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert files[pred_key] in err and files["ref"] in err and needle in err
    assert "(16, 15, 14)" in err
    assert not out.exists()  # no partial output


def test_bad_protocol_and_count_mismatch(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", files["pred"], "--ref", files["ref"], "--protocol", "fastmr"]) == 2
    assert "did you mean 'fastmri'" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                files["pred"],
                files["pred2"],
                "--ref",
                files["ref"],
                "--protocol",
                "fastmri",
            ]
        )
        == 2
    )
    assert "2 PRED files but 1 --ref" in capsys.readouterr().err
    missing = str(Path(files["ref"]).with_name("nope.nii.gz"))
    assert main(["evaluate", missing, "--ref", files["ref"], "--protocol", "fastmri"]) == 2
    assert "nope.nii.gz" in capsys.readouterr().err
