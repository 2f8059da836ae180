"""``medsr enhance``: formats, folders, DICOM output, records, refusals with one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.cli.main import main
from medsr.data.intensity import IntensityNorm
from medsr.degrade.kspace import truncate_kspace
from medsr.geometry import fov_corners
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
    # the file's own order too: nibabel's shape and affine of the written file
    assert rec["output_shape_file"] == list(nib.load(out).shape) == [20, 18, 7]
    np.testing.assert_allclose(rec["output_affine"], nib.load(out).affine, atol=1e-9)
    assert rec["output_file_axes"] == ["W", "H", "D"] and rec["input_shape_file"] == [10, 9, 7]
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


# ------------------------------------------- exclusive outputs, non-finite values, odd targets

_RACER = """
import sys, time
from pathlib import Path
import nibabel, torch  # the heavy imports happen before the start line
import medsr.infer.enhance, medsr.infer.engines, medsr.infer.predictor
from medsr.cli.main import main
go, ready = Path(sys.argv[1]), Path(sys.argv[2])
ready.write_text("")
while not go.exists():
    time.sleep(0.002)
sys.exit(main(sys.argv[3:]))
"""


def _nifti(path: Path) -> Path:
    import nibabel as nib

    nib.save(nib.Nifti1Image(rand((10, 9, 7), lo=0, hi=300), np.eye(4)), path)
    return path


@pytest.mark.slow
def test_two_runs_racing_for_one_output_one_wins(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    import subprocess
    import sys
    import time

    import nibabel as nib

    src, out = _nifti(tmp_path / "t1.nii.gz"), tmp_path / "o" / "same.nii.gz"
    args = ["enhance", str(src), "--model", str(ckpts["mr2d"]), "-o", str(out)]
    go = tmp_path / "go"
    procs = []
    for i in range(2):
        cmd = [sys.executable, "-c", _RACER, str(go), str(tmp_path / f"ready{i}"), *args]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    deadline = time.monotonic() + 300
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
        time.sleep(0.01)
    go.write_text("")  # both start together
    results = [(p.wait(timeout=600), p.stderr.read().decode()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2).strip()
    assert loser.count("\n") == 0 and loser.startswith(f"medsr: error: {tmp_path / 'o'}")
    assert "is writing it" in loser or "already exists" in loser
    assert nib.load(out).shape == (20, 18, 7)  # the winner's output, complete
    assert json.loads((tmp_path / "o" / "same.json").read_text())["output"] == str(out)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["same.json", "same.nii.gz"]


def test_a_run_already_writing_the_output_is_refused_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path]
) -> None:
    from medsr.io.atomic import claim_outputs

    src, out = _nifti(tmp_path / "t1.nii.gz"), tmp_path / "sr.nii.gz"
    args = ["enhance", str(src), "--model", str(ckpts["mr2d"]), "-o", str(out), "--overwrite"]
    import threading

    held, done = threading.Event(), threading.Event()

    def other_run() -> None:
        with claim_outputs([out], overwrite=True):
            held.set()
            done.wait(60)

    worker = threading.Thread(target=other_run)
    worker.start()
    try:
        assert held.wait(60)
        assert main(args) == 2  # --overwrite does not let two runs write one file
        assert "sr.nii.gz: another medsr run" in _err_line(capsys)
    finally:
        done.set()
        worker.join()
    assert not out.exists() and not (tmp_path / "sr.json").exists()
    assert main(args) == 0


def test_checkpoint_with_nan_weights_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path]
) -> None:
    from medsr.artifact.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(ckpts["mr2d"])
    name = next(k for k, v in ckpt.state_dict.items() if v.is_floating_point())
    ckpt.state_dict = {**ckpt.state_dict, name: ckpt.state_dict[name].clone()}
    ckpt.state_dict[name].view(-1)[3] = float("nan")
    save_checkpoint(ckpt, tmp_path / "nan.pt")
    src = _nifti(tmp_path / "t1.nii.gz")
    out = tmp_path / "o.nii.gz"
    assert main(["enhance", str(src), "--model", str(tmp_path / "nan.pt"), "-o", str(out)]) == 2
    err = _err_line(capsys)
    assert f"{tmp_path / 'nan.pt'}: the weights hold NaN/Inf values (in {name!r})" in err
    assert "allow_nonfinite" not in err and "=True" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.pt", "t1.nii.gz"]


def test_non_finite_output_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path]
) -> None:
    from medsr.artifact.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(ckpts["mr2d"])
    ckpt.state_dict = {  # finite weights whose activations overflow float32
        k: v * 1e30 if v.is_floating_point() and k.endswith("weight") else v
        for k, v in ckpt.state_dict.items()
    }
    save_checkpoint(ckpt, tmp_path / "huge.pt")
    src = _nifti(tmp_path / "t1.nii.gz")
    out = tmp_path / "out" / "o.nii.gz"
    assert main(["enhance", str(src), "--model", str(tmp_path / "huge.pt"), "-o", str(out)]) == 2
    err = _err_line(capsys)
    assert f"{src}: the model produced" in err and "NaN/Inf voxels" in err
    assert f"nothing was written to {out}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.pt", "t1.nii.gz"]  # no out/


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to-a-file"])
def test_a_symlink_at_the_output_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path], dangling: bool
) -> None:
    src = _nifti(tmp_path / "t1.nii.gz")
    pointee = tmp_path / "precious.nii.gz"
    if not dangling:
        pointee.write_bytes(b"keep")
    out = tmp_path / "o.nii.gz"
    out.symlink_to(pointee)
    args = ["enhance", str(src), "--model", str(ckpts["mr2d"]), "-o", str(out)]
    assert main(args) == 2
    assert f"{out}: already exists; pass --overwrite" in _err_line(capsys)
    assert out.is_symlink() and not (tmp_path / "o.json").exists()
    assert main([*args, "--overwrite"]) == 0
    assert not out.is_symlink() and read_volume(out).shape == (7, 18, 20)
    assert dangling or pointee.read_bytes() == b"keep"  # the link was replaced, not followed


def test_an_unwritable_output_folder_is_found_before_the_model_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ckpts: dict[str, Path],
) -> None:
    import medsr.infer.engines

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(medsr.infer.engines, "load_engine", must_not_run)
    src = _nifti(tmp_path / "t1.nii.gz")
    (tmp_path / "notafolder").write_text("x")
    out = tmp_path / "notafolder" / "sr.nii.gz"
    assert main(["enhance", str(src), "--model", str(ckpts["mr2d"]), "-o", str(out)]) == 2
    err = _err_line(capsys)
    assert err.startswith(f"medsr: error: {out}: cannot write there") and ".tmp" not in err


def test_stale_partials_beside_the_output_are_removed_by_the_next_run(
    tmp_path: Path, ckpts: dict[str, Path]
) -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "o" / "sr.nii.gz"
    out.parent.mkdir()
    debris = [
        out.parent / f".sr.nii.gz.{dead.pid}.abcdefgh.tmp.nii.gz",
        out.parent / f".sr.json.{dead.pid}.abcdefgh.tmp.json",
        out.parent / ".sr.nii.gz.lock",  # its lock: unheld since the writer died
    ]
    for p in debris:
        p.write_bytes(b"half")
    src = _nifti(tmp_path / "t1.nii.gz")
    assert main(["enhance", str(src), "--model", str(ckpts["mr2d"]), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["sr.json", "sr.nii.gz"]


def test_dicom_out_folder_has_the_permissions_of_a_plain_mkdir(
    tmp_path: Path, ckpts: dict[str, Path]
) -> None:
    import importlib
    import os
    import stat

    import medsr.io.atomic as atomic

    series = _ct_series(tmp_path / "ct")
    old = os.umask(0o022)
    try:
        importlib.reload(atomic)  # the modes are read from the umask at import
        out = tmp_path / "dcm"
        assert main(["enhance", str(series), "--model", str(ckpts["ct3d"]), "-o", str(out), "--dicom-out"]) == 0  # fmt: skip
    finally:
        os.umask(old)
        importlib.reload(atomic)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # not mkdtemp's 0700
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {0o644}


@pytest.mark.parametrize("kind", ["complex", "rgb"])
def test_complex_and_rgb_nifti_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ckpts: dict[str, Path], kind: str
) -> None:
    import nibabel as nib

    if kind == "complex":
        data = (rand((6, 7, 5)) + 1j * rand((6, 7, 5), seed=1)).astype(np.complex64)
    else:
        data = np.zeros((6, 7, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "x.nii.gz")
    out = tmp_path / "o.nii.gz"
    args = ["enhance", str(tmp_path / "x.nii.gz"), "--model", str(ckpts["mr2d"]), "-o", str(out)]
    assert main(args) == 2
    err = _err_line(capsys)
    assert err.startswith(f"medsr: error: {tmp_path / 'x.nii.gz'}: ")
    assert ("magnitude" in err) if kind == "complex" else ("RGB colour image" in err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nii.gz"]
