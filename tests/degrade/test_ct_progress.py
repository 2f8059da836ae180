"""Progress of the low-dose CT simulation: the library reporter and ``medsr degrade``'s bar."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.degrade import ct
from medsr.degrade.ct import simulate_low_dose_ct, slice_progress
from medsr.io import read_volume, write_volume
from medsr.volume import Volume

_CT_FLAGS = ["--kind", "lowdose_ct", "--i0", "1e4", "--views", "20"]


def _phantom(slices: int = 5) -> np.ndarray:
    r = np.hypot(*(np.mgrid[:20, :20] - 9.5))
    hu = np.where(r < 8, 40.0, -1000.0)[None].repeat(slices, axis=0)
    hu[1:, 6:9, 6:12] = 600.0
    return hu.astype(np.float32)


@pytest.fixture
def ct_file(tmp_path: Path) -> Path:
    affine = np.zeros((4, 4))  # the reader's canonical order: D is z, H is y, W is x
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = 2.0, 0.8, 0.8, 1.0
    vol = Volume(
        array=_phantom()[None], spacing=(2.0, 0.8, 0.8), affine=affine, modality="CT", unit="HU"
    )
    return write_volume(vol, tmp_path / "ct.nii.gz")


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws its bar into it."""

    def isatty(self) -> bool:
        return True


def test_reporter_sees_every_batch_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    hu = _phantom(5)
    kwargs = {"pixel_size": 0.8, "i0": 1e4, "views": 20}
    plain = simulate_low_dose_ct(hu, rng=np.random.default_rng(3), **kwargs)
    rays = 20 * ct.default_detector_count((20, 20))
    monkeypatch.setattr(ct, "_BATCH_RAYS", 2 * rays)  # two slices per batch: 2 + 2 + 1
    calls: list[tuple[int, int]] = []
    with slice_progress(lambda done, total: calls.append((done, total))):
        reported = simulate_low_dose_ct(hu, rng=np.random.default_rng(3), **kwargs)
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    assert [d for d, _ in calls] == sorted({d for d, _ in calls})  # strictly increasing
    assert len(calls) == 1 + 3 and {t for _, t in calls} == {5}
    np.testing.assert_array_equal(reported, plain)  # batching and reporting leave the noise alone
    # the reporter ends with its block
    after: list[tuple[int, int]] = []
    with slice_progress(lambda d, t: after.append((d, t))):
        pass
    simulate_low_dose_ct(hu, rng=np.random.default_rng(3), **kwargs)
    assert after == [] and ct._PROGRESS.get() is None


def test_no_bar_when_stderr_is_not_a_terminal(
    ct_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ld.nii.gz"
    assert main(["degrade", str(ct_file), "-o", str(out), *_CT_FLAGS]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"wrote {out}" in captured.out
    assert read_volume(out, modality="CT").shape == (5, 20, 20)


def test_bar_on_a_terminal_and_quiet_turns_it_off(
    ct_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    out = tmp_path / "ld.nii.gz"
    assert main(["degrade", str(ct_file), "-o", str(out), *_CT_FLAGS]) == 0
    bar = term.getvalue()
    assert "lowdose_ct" in bar and "5/5" in bar and "100%" in bar and "slice" in bar

    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    out_q = tmp_path / "ld_quiet.nii.gz"
    assert main(["degrade", str(ct_file), "-o", str(out_q), *_CT_FLAGS, "--quiet"]) == 0
    assert quiet.getvalue() == ""
    # same seed, same result, with or without the bar
    np.testing.assert_array_equal(
        read_volume(out_q, modality="CT").array, read_volume(out, modality="CT").array
    )


def test_other_kinds_show_no_bar_on_a_terminal(
    ct_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    out = tmp_path / "g.nii.gz"
    argv = ["degrade", str(ct_file), "-o", str(out), "--kind", "gaussian_noise", "--sigma", "5"]
    assert main(argv) == 0
    assert term.getvalue() == ""
