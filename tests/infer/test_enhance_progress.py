"""Progress of ``medsr enhance``: window counts from the sliding window and the CLI's bar."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.cli.main import main
from medsr.io import read_volume, write_volume
from medsr.nn.sliding_window import sliding_window_inference, window_progress
from medsr.volume import Volume

from ._models import SRRESNET2D_KW, checkpoint


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("halo", [None, (2, 2, 2)])
def test_every_window_is_reported_once(halo: tuple[int, ...] | None) -> None:
    x = torch.rand(2, 1, 10, 12, 9)
    calls: list[tuple[int, int]] = []
    runs = []

    def net(t: torch.Tensor) -> torch.Tensor:
        runs.append(t.shape[0])
        return t

    with window_progress(lambda d, t: calls.append((d, t))):
        out = sliding_window_inference(x, net, window=(4, 5, 4), batch_size=3, halo=halo)
    torch.testing.assert_close(out, x)
    total = sum(runs)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls][1:] == list(np.cumsum(runs))
    # no block, no reports
    sliding_window_inference(x, net, window=(4, 5, 4), batch_size=3, halo=halo)
    assert calls[-1] == (total, total) and len(calls) == len(runs) // 2 + 1


def test_cli_bar_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET2D_KW)
    src = write_volume(
        Volume.from_array(np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)),
        tmp_path / "in.nii.gz",
    )
    args = ["enhance", str(src), "--model", str(model), "--window", "8"]
    assert main([*args, "-o", str(tmp_path / "a.nii.gz")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: silent
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main([*args, "-o", str(tmp_path / "b.nii.gz")]) == 0
    assert "enhance" in term.getvalue() and "100%" in term.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main([*args, "-o", str(tmp_path / "c.nii.gz"), "--quiet"]) == 0
    assert quiet.getvalue() == ""
    np.testing.assert_array_equal(
        read_volume(tmp_path / "b.nii.gz").array, read_volume(tmp_path / "c.nii.gz").array
    )
