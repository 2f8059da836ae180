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


@pytest.mark.parametrize(
    "flags",
    [
        ["--protocol", "fastmri", "unit-range", "brain-mask"],
        ["--protocol", "fastmri,unit-range", "--protocol", "brain-mask"],
        ["--protocol", "fastmri", "--protocol", "unit-range,brain-mask,fastmri"],
    ],
    ids=["several", "comma-and-repeat", "repeat-with-duplicate"],
)
def test_several_protocols_in_one_call(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    out = tmp_path / "res"
    argv = ["evaluate", files["pred"], files["pred2"], "--ref", files["ref"], files["ref2"]]
    assert main([*argv, *flags, "--method", "mine", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    names = ["fastmri", "unit-range", "brain-mask"]
    for name in names:
        assert f"protocol {name}:" in text
    doc = json.loads((out / "metrics.json").read_text())
    # one block of rows per protocol, in the order given; a repeated name counts once
    assert [(c["protocol"], c["case"]) for c in doc["cases"]] == [
        (p, c) for p in names for c in ("sub01", "sub02")
    ]
    assert [(s["protocol"], s["n"]) for s in doc["summary"]] == [(p, 2) for p in names]
    ref = np.asarray(files["ref_arr"], dtype=np.float64)
    pred = np.asarray(files["pred_arr"], dtype=np.float64)
    for name, case in zip(names, doc["cases"][::2], strict=True):
        expected = get_protocol(name).evaluate(pred, ref)
        assert case["metrics"]["psnr"] == pytest.approx(expected["psnr"], rel=1e-9)
        assert case["metrics"]["nrmse"] == pytest.approx(expected["nrmse"], rel=1e-9)
    # the protocols really differ here, so a row cannot have been copied from another
    assert len({c["metrics"]["psnr"] for c in doc["cases"][::2]}) == 3
    csv_lines = (out / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 6
    assert [line.split(",")[2] for line in csv_lines[1:]] == [p for p in names for _ in (0, 1)]
    summary = (out / "summary.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in summary[1:]] == names


def test_one_protocol_output_is_unchanged_by_the_multi_protocol_form(
    files: dict[str, str], tmp_path: Path
) -> None:
    argv = ["evaluate", files["pred"], "--ref", files["ref"]]
    assert main([*argv, "--protocol", "fastmri", "--out", str(tmp_path / "one")]) == 0
    assert main([*argv, "--protocol", "fastmri,unit-range", "--out", str(tmp_path / "two")]) == 0
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert set(one) == {"cases", "summary"} == set(two)
    assert one["cases"] == two["cases"][:1] and one["summary"] == two["summary"][:1]


def test_an_unknown_protocol_among_several_is_refused_before_reading(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res"
    missing = str(tmp_path / "nope.nii.gz")  # would fail later if the files were read first
    argv = ["evaluate", missing, "--ref", files["ref"], "--out", str(out)]
    assert main([*argv, "--protocol", "fastmri", "brain-msk"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean 'brain-mask'" in err
    assert "nope.nii.gz" not in err and not out.exists()
    assert main([*argv, "--protocol", ","]) == 2
    assert "at least one protocol" in capsys.readouterr().err
