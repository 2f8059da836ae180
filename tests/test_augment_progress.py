"""``medsr augment`` shows a progress bar over the model's windows on a terminal, none in a pipe
or with ``--quiet``; a bad ``--device`` is one line and exit 2 before any work; ``medsr train
--quiet`` is its ``--no-progress``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr.cli.main import build_parser, main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_augment_bar_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    low = tmp_path / "low.nii.gz"
    head = np.random.default_rng(0).random((16, 16, 16)).astype(np.float32) * 900
    nib.save(nib.Nifti1Image(head, np.eye(4) * [2, 2, 2, 1]), str(low))
    labels = tmp_path / "lab.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((32, 32, 32), np.uint8), np.eye(4)), str(labels))
    args = ["augment", str(low), "--model", "disgan-t1-x2", "--no-simulate"]
    args += ["--labels", str(labels)]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: silent
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main([*args, "-o", str(tmp_path / "b")]) == 0
    assert "augment" in term.getvalue() and "100%" in term.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main([*args, "-o", str(tmp_path / "c"), "--quiet"]) == 0
    assert quiet.getvalue() == ""
    b, c = (np.asarray(nib.load(tmp_path / n / "images" / "low_sr.nii.gz").dataobj) for n in "bc")
    np.testing.assert_array_equal(b, c)


@pytest.mark.parametrize("flag", ["--quiet", "--no-progress"])
def test_train_quiet_turns_the_bar_off(flag: str) -> None:
    args = build_parser().parse_args(["train", "x.yaml", "--out", "run", flag])
    assert args.no_progress is True
    assert build_parser().parse_args(["train", "x.yaml", "--out", "run"]).no_progress is False


@pytest.mark.parametrize(("device", "needle"), [("bogus", "not a device"), ("mps", "runs on")])
def test_augment_bad_device_is_one_line_exit_2(
    device: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((16, 16, 16), np.float32), np.eye(4)), str(scan))
    out = tmp_path / "set"
    argv = ["augment", str(scan), "--model", "disgan-t1-x2", "-o", str(out), "--device", device]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"--device {device!r}" in err and needle in err
    assert not out.exists()
