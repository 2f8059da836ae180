"""Progress of ``medsr baseline``: the per-slice denoisers report their slices; the CLI's bar
shows only on a terminal and never with ``--quiet``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr.baselines import denoise
from medsr.baselines.progress import each_slice, slice_progress
from medsr.cli.main import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_every_slice_is_reported_once_and_only_inside_a_block() -> None:
    arr = np.arange(5 * 3 * 4, dtype=np.float64).reshape(5, 3, 4)
    calls: list[tuple[int, int]] = []
    with slice_progress(lambda d, t: calls.append((d, t))):
        out = each_slice(arr, lambda s: s * 2)
    np.testing.assert_array_equal(out, arr * 2)
    assert calls == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    each_slice(arr, lambda s: s)  # no block, no reports
    assert len(calls) == 6


def test_the_denoisers_report_their_slices() -> None:
    pytest.importorskip("skimage")
    x = np.random.default_rng(0).normal(100.0, 10.0, (3, 12, 12))
    calls: list[tuple[int, int]] = []
    with slice_progress(lambda d, t: calls.append((d, t))):
        denoise.bilateral(x, sigma=10.0)
    assert calls[0] == (0, 3) and calls[-1] == (3, 3) and len(calls) == 4


def test_cli_bar_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("skimage")
    data = np.random.default_rng(1).normal(0.0, 30.0, (16, 16, 4)).astype(np.float32)
    src = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), src)
    args = ["baseline", "bilateral", str(src), "--sigma", "30"]
    assert main([*args, "-o", str(tmp_path / "a.nii.gz")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: silent
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main([*args, "-o", str(tmp_path / "b.nii.gz")]) == 0
    shown = term.getvalue()
    assert "baseline bilateral" in shown and "100%" in shown and "4/4" in shown
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main([*args, "-o", str(tmp_path / "c.nii.gz"), "--quiet"]) == 0
    assert quiet.getvalue() == ""
    a, b, c = (np.asarray(nib.load(tmp_path / f"{n}.nii.gz").dataobj) for n in "abc")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)
