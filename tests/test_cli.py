"""The CLI shell: fast help/version, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from medsr.cli.main import COMMANDS, main


def test_version_and_help_are_fast_and_light() -> None:
    code = (
        "import sys;"
        "from medsr.cli.main import build_parser; build_parser();"
        "heavy=[m for m in ('torch','scipy','nibabel','pydicom','skimage','h5py') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"heavy modules imported by the CLI parser: {out.stdout}"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("medsr ")


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert name in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
