"""Distributed training: 2 CPU processes (gloo, one thread each, launched by torchrun) match
one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.train import train_from_config
from medsr.train.rundir import checkpoints

from .conftest import TINY

# ESRGAN's RRDB generator has no batch norm, so per-rank statistics cannot differ; plain SGD
# makes every update proportional to the (averaged) gradient.
SETS = [
    "train.recipe=supervised",
    "train.pretrain_steps=0",
    "train.steps=4",
    "data.batch_size=4",
    "losses.terms.feature.weight=0",
    "val.every=100",
    "checkpoint.every=2",
    "optim.generator.name=sgd",
    "optim.generator.lr=0.05",
]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    config = TINY / "esrgan_x4.yaml"
    single = train_from_config(
        load_config(config, overrides=SETS), tmp_path / "one", progress=False
    )

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [a for s in SETS for a in ("--set", s)]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes=1",
        "--nproc_per_node=2",
        "-m",
        "medsr.cli.main",
        "train",
        str(config),
        "--out",
        str(tmp_path / "two"),
        "--no-progress",
        *sets,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    want = load_checkpoint(single.last_checkpoint).train_state  # type: ignore[arg-type]
    got = load_checkpoint(checkpoints(tmp_path / "two")[-1][1]).train_state
    assert want is not None and got is not None
    assert got["world_size"] == 2 and want["world_size"] == 1
    assert got["step"] == want["step"] == 4 and got["batches"] == want["batches"]
    moved = 0.0
    first = load_checkpoint(checkpoints(tmp_path / "one")[0][1]).train_state
    assert first is not None
    for key, value in want["networks"]["generator"].items():
        torch.testing.assert_close(got["networks"]["generator"][key], value, rtol=1e-5, atol=1e-7)
        moved = max(moved, float((value - first["networks"]["generator"][key]).abs().max()))
    assert moved > 1e-4  # the comparison is not between two untrained networks
