"""A ``medsr train`` start that fails leaves no run folder that can be neither reused nor resumed.

Failures before the data and networks are built leave nothing; failures after the folder was made
but before the first checkpoint remove what the run wrote; a failure after the first checkpoint
keeps the folder (``--resume`` continues it). A resume whose newest checkpoint holds no training
state is refused before any work.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from medsr.cli.main import main
from medsr.config import load_config
from medsr.errors import InputError, MedsrError
from medsr.train import rundir
from medsr.train.trainer import Trainer

from .conftest import TINY

CONFIG = TINY / "srrescycgan.yaml"
FAST = ["--set", "train.steps=2", "--set", "val.every=2", "--set", "checkpoint.every=1"]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("medsr: error:") and "\n" not in err, err
    return err


def test_unreadable_training_scan_leaves_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(gzip.compress(b"not a nifti header" * 30))
    run = tmp_path / "run"
    code = main(["train", str(CONFIG), "--out", str(run), "--no-progress",
                 "--set", f"data.train.0.scan={bad}", *FAST])  # fmt: skip
    assert code == 2
    assert "bad.nii.gz" in _err(capsys)
    assert not run.exists()
    rundir.check_new(run)  # what --out checks: the same folder is accepted for the next start


class _Boom(MedsrError):
    pass


def _fail_first_checkpoint(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make the first checkpoint fail; returns the run folders seen when it was written."""
    seen: list[Path] = []

    def boom(self: Trainer) -> None:
        seen.append(self.run_dir)
        assert (self.run_dir / "config.yaml").is_file()  # the folder was made by now
        raise _Boom("disk full while writing the first checkpoint")

    monkeypatch.setattr(Trainer, "save_checkpoint", boom)
    return seen


@pytest.mark.parametrize("existed", [False, True])
def test_failure_before_the_first_checkpoint_removes_what_the_run_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existed: bool
) -> None:
    seen = _fail_first_checkpoint(monkeypatch)
    run = tmp_path / "run"
    if existed:
        run.mkdir()  # an empty folder given with --out stays, empty
    cfg = load_config(CONFIG, overrides=FAST[1::2])
    with pytest.raises(_Boom):
        Trainer(cfg, run, progress=False).fit()
    assert seen == [run]
    assert run.is_dir() == existed
    if existed:
        assert list(run.iterdir()) == []
    rundir.check_new(run)


def test_failure_after_the_first_checkpoint_keeps_a_resumable_folder(tmp_path: Path) -> None:
    def stop(trainer: Trainer, step: int, scalars: dict[str, float]) -> None:
        raise _Boom("stopped after the first step")

    run = tmp_path / "run"
    cfg = load_config(CONFIG, overrides=FAST[1::2])
    with pytest.raises(_Boom):
        Trainer(cfg, run, progress=False, callbacks=[stop]).fit()
    assert [step for step, _ in rundir.checkpoints(run)] == [0]
    ckpt = rundir.load_resume_checkpoint(run)
    assert ckpt.train_state is not None and ckpt.train_state["step"] == 0


def _inference_only_run(tmp_path: Path) -> Path:
    """A run folder whose newest checkpoint is an inference checkpoint (no training state)."""
    from tests.infer._models import SRRESNET2D_KW, checkpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    checkpoint(run / "checkpoints" / "ckpt_00000005.pt", "srresnet", SRRESNET2D_KW)
    return run


def test_resume_without_training_state_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _inference_only_run(tmp_path)

    def no_work(self: Trainer, info: object) -> None:
        raise AssertionError("the run was set up before the checkpoint was checked")

    monkeypatch.setattr(Trainer, "_setup", no_work)
    assert main(["train", "--resume", str(run)]) == 2
    err = _err(capsys)
    assert "ckpt_00000005.pt" in err and "training state" in err
    cfg = load_config(CONFIG)
    with pytest.raises(InputError, match="training state"):
        Trainer(cfg, run, resume=True, progress=False).fit()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ckpt_00000005.pt"]


@pytest.mark.parametrize("content", [b"", b"plain text, not a checkpoint\n", bytes(range(256)) * 8])
def test_resume_from_an_unreadable_checkpoint_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt_00000002.pt").write_bytes(content)
    assert main(["train", "--resume", str(run)]) == 2
    assert "ckpt_00000002.pt" in _err(capsys)


def test_resume_and_out_that_are_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("a file\n")
    assert main(["train", "--resume", str(f)]) == 2
    assert "notes.txt" in _err(capsys)
    assert main(["train", str(CONFIG), "--out", str(f)]) == 2
    assert "notes.txt" in _err(capsys)
    assert f.read_text() == "a file\n"
