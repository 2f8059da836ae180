"""Bad inputs: one-line InputError naming the file, exit code 2, and no partial report."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.errors import InputError
from medsr.report import build_report


def _corrupt_metrics(src: Path) -> Path:
    (src / "metrics.json").write_text('{"cases": [', encoding="utf-8")
    return src / "metrics.json"


def _metrics_bad_layout(src: Path) -> Path:
    (src / "metrics.json").write_text('{"rows": []}', encoding="utf-8")
    return src / "metrics.json"


def _case_without_files(src: Path) -> Path:
    path = src / "cases" / "ct2d" / "case.json"
    data = json.loads(path.read_text())
    del data["files"]
    path.write_text(json.dumps(data))
    return path


def _missing_case_json(src: Path) -> Path:
    path = src / "cases" / "mr2d" / "case.json"
    path.unlink()
    return path


def _truncated_volume(src: Path) -> Path:
    path = src / "cases" / "mr3d" / "cubic.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2])[:-20])
    return path


def _missing_volume(src: Path) -> Path:
    path = src / "cases" / "ct2d" / "ct-denoiser.nii.gz"
    path.unlink()
    return path


def _volume_on_another_grid(src: Path) -> Path:
    from medsr.io import write_volume
    from medsr.volume import Volume

    path = src / "cases" / "mr3d" / "mdcsrn-t1-k2.nii.gz"
    path.unlink()
    write_volume(Volume.from_array(np.zeros((5, 6, 7), np.float32)), path)
    return path


def _bad_window(src: Path) -> Path:
    path = src / "cases" / "mr3d" / "case.json"
    data = json.loads(path.read_text())
    data["display_window"] = [1.0, 0.0]
    path.write_text(json.dumps(data))
    return path


BREAKERS: dict[str, Callable[[Path], Path]] = {
    "corrupt metrics.json": _corrupt_metrics,
    "metrics.json layout": _metrics_bad_layout,
    "case.json without files": _case_without_files,
    "missing case.json": _missing_case_json,
    "truncated volume": _truncated_volume,
    "missing volume": _missing_volume,
    "volume on another grid": _volume_on_another_grid,
    "bad display window": _bad_window,
}


@pytest.fixture
def src(demo_src: Path, tmp_path: Path) -> Path:
    """A writable copy of the demo folder."""
    out = tmp_path / "src"
    shutil.copytree(demo_src, out)
    return out


def _no_report_left(folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    assert not names & {"report.html", "report.md", "report_files"}, names
    assert not [n for n in names if n.startswith(".report-")], names


@pytest.mark.parametrize("breaker", list(BREAKERS), ids=list(BREAKERS))
def test_bad_input_names_the_file_and_writes_nothing(src: Path, breaker: str) -> None:
    bad = BREAKERS[breaker](src)
    with pytest.raises(InputError) as info:
        build_report(src)
    message = str(info.value)
    assert "\n" not in message
    assert Path(info.value.path).name == bad.name, message
    assert bad.name in message
    _no_report_left(src)


def test_failed_overwrite_keeps_the_old_report(src: Path) -> None:
    first = build_report(src)
    before = first.html.read_bytes()
    _truncated_volume(src)
    with pytest.raises(InputError):
        build_report(src, overwrite=True)
    assert first.html.read_bytes() == before
    assert all(p.is_file() for p in first.files)


@pytest.mark.parametrize("kind", ["missing", "empty", "file"])
def test_unknown_folder_is_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("hello")
    with pytest.raises(InputError, match=r"x: (no such folder|not a folder|no run\.json)"):
        build_report(target)
    assert not (tmp_path / "report.html").exists()


def test_cli_error_is_one_line_and_exit_code_2(
    src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _corrupt_metrics(src)
    assert main(["report", str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("medsr: error: ") and str(bad) in err
    _no_report_left(src)


def test_cli_writes_and_prints_paths(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["report", str(src), "--out", str(out), "--title", "My report"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out / "report.html") and printed[1] == str(out / "report.md")
    assert "My report" in (out / "report.html").read_text(encoding="utf-8")
    assert main(["report", str(src), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["report", str(src), "--out", str(out), "--overwrite"]) == 0
