"""``--resume`` continues exactly: a run SIGKILLed between checkpoints and resumed ends with the
same weights, optimiser states and logged losses as an uninterrupted run (CPU, deterministic).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.cli.main import main
from medsr.config import load_config
from medsr.train import train_from_config
from medsr.train.rundir import checkpoints

from .conftest import TINY

CHILD = """
import os, sys, time
import torch
torch.set_num_threads(1)
from medsr.config import load_config
from medsr.train.trainer import Trainer

config, run_dir, marker, kill_after = sys.argv[1:5]
cfg = load_config(config, overrides=sys.argv[5:])

def pause(trainer, step, scalars):
    if step == int(kill_after):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(600)  # the parent SIGKILLs us here

Trainer(cfg, run_dir, progress=False, callbacks=[pause]).fit()
"""


def _steps(run: Path) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in lines if "event" not in r]


def _kill_mid_run(tmp: Path, config: Path, overrides: list[str], kill_after: int) -> Path:
    run, marker = tmp / "killed", tmp / "marker"
    script = tmp / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, str(script), str(config), str(run), str(marker), str(kill_after)]
    proc = subprocess.Popen([*args, *overrides], env=env)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, "the child run ended before reaching the kill point"
            assert time.monotonic() < deadline, "the child run never reached the kill point"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    return run


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe", "kill_after"),
    [("mdcsrn_wgangp", 5), ("srgan_x3", 4)],  # GP + schedule bursts; dropout in the critic
)
def test_sigkill_then_resume_matches_uninterrupted(
    recipe: str, kill_after: int, tmp_path: Path
) -> None:
    config = TINY / f"{recipe}.yaml"
    common = ["train.steps=8", "checkpoint.every=3", "checkpoint.keep_last=10", "val.every=4"]
    run = _kill_mid_run(tmp_path, config, [*common, "data.workers=1"], kill_after)
    assert [s for s, _ in checkpoints(run)] == [0, 3]  # steps 4.. were lost with the process
    pid = int((tmp_path / "marker").read_text())  # partials a kill mid-write leaves (item 9)
    debris = [  # names the resumed run does not write again (no per-file cleaning helps)
        run / "checkpoints" / f".ckpt_00000004.pt.{pid}.k3j2h1g0.tmp.pt",
        run / "checkpoints" / ".ckpt_00000004.pt.lock",
        run / "samples" / f".step_00000002.png.{pid}.a1b2c3d4.tmp.png",
        run / f".config.yaml.{pid}.zz99yy88.tmp.yaml",
    ]
    for p in debris:
        p.write_bytes(b"half written")

    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert list(run.rglob(".*")) == []  # the resumed run cleaned its folder

    ref = tmp_path / "reference"
    train_from_config(load_config(config, overrides=common), ref, progress=False)
    got = load_checkpoint(checkpoints(run)[-1][1]).train_state
    want = load_checkpoint(checkpoints(ref)[-1][1]).train_state
    assert got is not None and want is not None
    assert got["step"] == want["step"] == 8 and got["batches"] == want["batches"]
    for role, sd in want["networks"].items():
        for key, value in sd.items():
            torch.testing.assert_close(got["networks"][role][key], value, rtol=0, atol=0)
    for role, opt in want["optimizers"].items():
        for pid, st in opt["state"].items():
            for key, value in st.items():
                torch.testing.assert_close(
                    got["optimizers"][role]["state"][pid][key], value, rtol=0, atol=0
                )
    assert _steps(run) == _steps(ref)  # the log reads as one uninterrupted run


def test_resume_refuses_a_changed_recipe(tmp_path: Path) -> None:
    config = TINY / "mdcsrn_wgangp.yaml"
    train_from_config(
        load_config(config, overrides=["train.steps=2"]), tmp_path / "r", progress=False
    )
    assert (
        main(
            [
                "train",
                str(config),
                "--resume",
                str(tmp_path / "r"),
                "--set",
                "train.steps=2",
                "--set",
                "optim.generator.lr=0.5",
            ]
        )
        == 2
    )
    # a longer run is a legal change: it continues from step 2
    assert (
        main(["train", "--resume", str(tmp_path / "r"), "--set", "train.steps=3", "--no-progress"])
        == 0
    )
    assert load_checkpoint(checkpoints(tmp_path / "r")[-1][1]).train_state["step"] == 3  # type: ignore[index]


def test_schedule_boundaries_move_only_ahead_of_the_run() -> None:
    from medsr.errors import ConfigError
    from medsr.train.rundir import check_resume_config

    stored = {"train": {"steps": 10, "pretrain_steps": 5, "d_warmup_steps": 2}}
    longer = {"train": {"steps": 20, "pretrain_steps": 15, "d_warmup_steps": 2}}
    check_resume_config(stored, longer, step=4)  # still pretraining under both schedules
    with pytest.raises(ConfigError, match="pretrain_steps"):
        check_resume_config(stored, longer, step=5)  # already past the old boundary
    with pytest.raises(ConfigError, match="pretrain_steps"):
        check_resume_config(stored, longer)  # without the step nothing may move
    shorter = {"train": {"steps": 10, "pretrain_steps": 3, "d_warmup_steps": 2}}
    with pytest.raises(ConfigError, match="pretrain_steps"):
        check_resume_config(stored, shorter, step=4)  # the new boundary lies behind the run
    warm = {"train": {"steps": 10, "pretrain_steps": 5, "d_warmup_steps": 4}}
    check_resume_config(stored, warm, step=6)  # in the warm-up of both: 7 and 9 are ahead
    with pytest.raises(ConfigError, match="d_warmup_steps"):
        check_resume_config(stored, warm, step=7)


def test_resume_accepts_options_added_after_the_run_started_at_their_default() -> None:
    from medsr.errors import ConfigError
    from medsr.train.rundir import check_resume_config

    stored = {"train": {"recipe": "supervised", "steps": 10}}
    given = {"train": {"recipe": "supervised", "steps": 10, "init_generator": ""}}
    check_resume_config(stored, given, step=4)  # the run predates the option: nothing changes
    given["train"]["init_generator"] = "some-model"
    with pytest.raises(ConfigError, match="init_generator"):
        check_resume_config(stored, given, step=4)
