"""The CLI shell: fast help/version, one-line errors, quiet broken pipes, exclusive outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_listing_the_bundled_models_does_not_load_torch() -> None:
    """``medsr models`` reads the index and the cards only (it stays instant)."""
    code = (
        "import sys, io, contextlib;"
        "from medsr.cli.main import main;"
        "f = io.StringIO();"
        "ctx = contextlib.redirect_stdout(f); ctx.__enter__(); main(['models', '--json']); ctx.__exit__(None, None, None);"
        "print([m for m in ('torch','scipy','nibabel','pydicom') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-300:]


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


#: ``medsr models`` replaced by a command that warns like a library, prints, then ends as told.
_WARNS_THEN = """
import sys, warnings
import medsr.cli.models
from medsr.errors import InputError

def run(args):
    warnings.warn("pixdim[0] (qfac) should be 1 (default) or -1", UserWarning, stacklevel=1)
    print("result line", flush=True)
    if sys.argv[1] == "user-error":
        raise InputError("scan.nii.gz", "file is truncated")
    if sys.argv[1] == "bug":
        raise RuntimeError("boom")
    return 0

medsr.cli.models.run = run
from medsr.cli.main import main
sys.exit(main(["models"]))
"""


def _warns_then(how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WARNS_THEN, how], capture_output=True, text=True, timeout=300
    )


def test_library_warnings_never_precede_the_one_line_error() -> None:
    out = _warns_then("user-error")
    assert out.returncode == 2 and out.stdout == "result line\n"
    assert out.stderr == "medsr: error: scan.nii.gz: file is truncated\n"


def test_library_warnings_are_shown_after_a_success_or_before_an_internal_error() -> None:
    ok = _warns_then("success")
    assert ok.returncode == 0 and ok.stdout == "result line\n"
    assert "UserWarning: pixdim[0] (qfac) should be 1" in ok.stderr
    bug = _warns_then("bug")
    lines = bug.stderr.strip().splitlines()
    assert bug.returncode == 1 and "pixdim[0] (qfac)" in lines[0]
    assert lines[-1].startswith("medsr: internal error: RuntimeError: boom")


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    err = tmp_path / "stderr.txt"
    code = "import sys; from medsr.cli.main import main; sys.exit(main())"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "models", "--json"],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        proc.stdout.close()  # type: ignore[union-attr]  # the reader (`head -1`) is gone
        rc = proc.wait(timeout=300)
    assert rc == 141 and err.read_text() == ""


def test_evaluate_out_naming_a_file_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results").write_text("not a folder")
    args = ["evaluate", "missing_pred.nii.gz", "--ref", "missing_ref.nii.gz"]
    assert main([*args, "--protocol", "unit-range", "--out", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"medsr: error: {tmp_path / 'results' / 'metrics.json'}: cannot write")
    assert "is not a folder" in err and (tmp_path / "results").read_text() == "not a folder"


def test_degrade_is_refused_while_another_run_writes_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from medsr.io.atomic import claim_outputs

    np.save(tmp_path / "in.npy", np.ones((4, 6, 6), dtype=np.float32))
    out = tmp_path / "low.npy"
    args = [
        "degrade",
        str(tmp_path / "in.npy"),
        "-o",
        str(out),
        "--kind",
        "gaussian",
        "--sigma",
        "0.1",
    ]
    with claim_outputs([tmp_path / "low.json"], overwrite=True):  # its sidecar, say
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from medsr.cli.main import main; sys.exit(main())", *args],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"medsr: error: {tmp_path / 'low.json'}: another medsr run")
    assert proc.stderr.count("\n") == 1 and not out.exists()
    assert main(args) == 0 and out.exists() and (tmp_path / "low.json").exists()


@pytest.mark.parametrize("command", ["degrade", "baseline", "evaluate", "enhance"])
def test_volume_commands_say_the_axis_order_in_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from medsr.cli.main import main as cli_main

    with pytest.raises(SystemExit):
        cli_main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "canonical (D, H, W) order" in text and "D runs inferior->superior" in text


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["models", "nope"], ["unrecognized arguments: nope", "`medsr models --help`"]),
        (["--nope"], ["unrecognized arguments: --nope", "`medsr --help`"]),
        (["bogus"], ["invalid choice: 'bogus'", "`medsr --help`"]),
        (
            ["export", "m.pt", "-o", "m.onnx", "--format", "x"],
            ["--format", "`medsr export --help`"],
        ),
        (["enhance", "in.nii.gz"], ["required: --model, -o/--output", "`medsr enhance --help`"]),
    ],
)
def test_usage_errors_are_one_line_naming_the_commands_help(
    argv: list[str], names: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("medsr: error: ") and "usage:" not in err
    for name in names:
        assert name in err, err
