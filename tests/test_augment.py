"""``medsr augment``: SR copies of scans with tissue labels, written whole (issue 15, part 2)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr.augment import scan_ids
from medsr.cli.main import main
from medsr.io import read_volume
from medsr.metrics.tissue_dice import tissue_labels
from tests._phantoms import radius, shells

MODEL = "disgan-t1-x2"  # 3D, x2 by k-space truncation: a 33^3 scan is cropped to 32^3


def _brain(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(head, brain mask)``: CSF / GM / WM shells inside a bright 'scalp'."""
    _, labels = shells(n, (0.95, 0.8, 0.7, 0.55, 0.35))  # scalp, gap, CSF, GM, WM
    img = np.array([0.0, 1200.0, 0.0, 300.0, 600.0, 900.0], dtype=np.float32)[labels]
    r = radius(n)[1]
    img += np.random.default_rng(seed).normal(0, 20, img.shape).astype(np.float32)
    return np.clip(img, 0, None), (r < 0.7).astype(np.uint8)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("augment-scans")
    affine = np.diag([1.0, 1.0, 1.2, 1.0])
    affine[:3, 3] = (-10.0, 5.0, 2.0)
    files = {}
    for name, n, seed in (("sub-a", 33, 1), ("sub-b", 32, 2)):
        head, mask = _brain(n, seed)
        for key, arr in ((name, head), (f"{name}_mask", mask)):
            files[key] = d / f"{key}.nii.gz"
            nib.save(nib.Nifti1Image(arr, affine), str(files[key]))
    return files


@pytest.mark.slow
def test_simulated_set_holds_sr_real_and_labels_on_one_grid(
    scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "set"
    argv = ["augment", str(scans["sub-a"]), str(scans["sub-b"]), "--model", MODEL, "-o", str(out)]
    masks = ["--mask", str(scans["sub-a_mask"]), str(scans["sub-b_mask"])]
    assert main([*argv, *masks]) == 0
    assert "2 SR and 2 real image(s), 4 with labels" in capsys.readouterr().out
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["numTraining"] == 4 and doc["simulate"] is True
    assert doc["degradation"][0]["kind"] == "kspace_truncate"
    assert doc["label_values"] == {"background": 0, "csf": 1, "gm": 2, "wm": 3}
    assert [(e["id"], e["kind"], e["seed"]) for e in doc["training"]] == [
        ("sub-a", "sr", 0), ("sub-a", "real", 0), ("sub-b", "sr", 1), ("sub-b", "real", 1)
    ]  # fmt: skip
    for sid, n in (("sub-a", 33), ("sub-b", 32)):
        sr = nib.load(str(out / "images" / f"{sid}_sr.nii.gz"))
        hr = nib.load(str(out / "images" / f"{sid}_hr.nii.gz"))
        lab = nib.load(str(out / "labels" / f"{sid}.nii.gz"))
        assert sr.shape == hr.shape == lab.shape == (32, 32, 32)
        np.testing.assert_allclose(sr.affine, hr.affine, atol=1e-5)
        np.testing.assert_allclose(lab.affine, hr.affine, atol=1e-5)
        assert lab.get_data_dtype() == np.uint8
        # the labels are the segmenter's on the (cropped) high-resolution scan inside its mask
        source = np.asarray(nib.load(str(scans[sid])).dataobj)
        mask = np.asarray(nib.load(str(scans[f"{sid}_mask"])).dataobj) != 0
        c = (n - 32) // 2
        crop = (slice(c, c + 32),) * 3
        np.testing.assert_array_equal(np.asarray(hr.dataobj), source[crop])
        labels = np.asarray(lab.dataobj)
        np.testing.assert_array_equal(labels, tissue_labels(source[crop], mask[crop]))
        assert set(np.unique(labels)) == {0, 1, 2, 3} and not labels[~mask[crop]].any()
        # the SR copy is an image of the same head, not the real one
        srd = np.asarray(sr.dataobj)
        assert np.isfinite(srd).all() and not np.array_equal(srd, source[crop])
        assert np.corrcoef(srd.ravel(), source[crop].ravel())[0, 1] > 0.9
    # deterministic: the same call writes the same SR volumes
    again = tmp_path / "again"
    assert main([*argv[:-1], str(again), *masks]) == 0
    for name in ("sub-a_sr.nii.gz", "sub-b_sr.nii.gz"):
        a = np.asarray(nib.load(str(out / "images" / name)).dataobj)
        b = np.asarray(nib.load(str(again / "images" / name)).dataobj)
        np.testing.assert_array_equal(a, b)


def test_real_low_resolution_scans_with_given_labels(
    scans: dict[str, Path], tmp_path: Path
) -> None:
    low = tmp_path / "low.nii.gz"
    head, _ = _brain(16, 3)
    nib.save(nib.Nifti1Image(head, np.eye(4) * [2, 2, 2, 1]), str(low))
    labels = tmp_path / "lab.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((32, 32, 32), np.uint8), np.eye(4)), str(labels))
    out = tmp_path / "set"
    argv = ["augment", str(low), "--model", MODEL, "-o", str(out), "--no-simulate"]
    assert main([*argv, "--labels", str(labels)]) == 0
    doc = json.loads((out / "dataset.json").read_text())
    assert [e["kind"] for e in doc["training"]] == ["sr"] and doc["degradation"] == []
    assert read_volume(out / "images" / "low_sr.nii.gz").shape == (32, 32, 32)
    # labels off the SR grid: a one-line error, exit 2, no folder
    wrong = tmp_path / "wrong.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((16, 16, 16), np.uint8), np.eye(4)), str(wrong))
    bad_out = tmp_path / "bad"
    assert main([*argv[:-2], str(bad_out), "--no-simulate", "--labels", str(wrong)]) == 2
    assert not bad_out.exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--mask", "M1"], "--mask files"),
        (["--labels", "L1", "L2"], "--labels is for real"),
    ],
)
def test_option_errors_are_one_line_exit_2(
    scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, needle
) -> None:
    out = tmp_path / "set"
    argv = ["augment", str(scans["sub-a"]), str(scans["sub-b"]), "--model", MODEL, "-o", str(out)]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_existing_folder_is_kept_and_network_unit_models_refused(
    scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "set"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    argv = ["augment", str(scans["sub-b"]), "--model", MODEL, "-o", str(out)]
    assert main(argv) == 2
    assert (out / "mine.txt").read_text() == "keep" and len(list(out.iterdir())) == 1
    capsys.readouterr()
    # SRResCycGAN's noise is relative to each scan's intensity: no volume-level reproduction
    other = tmp_path / "cyc"
    assert (
        main(["augment", str(scans["sub-b"]), "--model", "srrescycgan-t1-x4", "-o", str(other)])
        == 2
    )
    assert "network units" in capsys.readouterr().err
    assert not other.exists()


def test_scan_ids_strip_extensions_and_number_repeats() -> None:
    assert scan_ids(["a/x.nii.gz", "b/x.nii.gz", "y.npy", "z"]) == ["x-1", "x-2", "y", "z"]
