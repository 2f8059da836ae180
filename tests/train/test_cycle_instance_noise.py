"""Instance noise reaches both discriminators of the cycle recipe (SRResCycGAN): the same seeded
run with and without it trains different discriminators, and the noisy run is reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.data import catalogue
from medsr.train import train_from_config

from .conftest import TINY

NOISE = "losses.adversarial.instance_noise={std: 0.5, steps: 100}"


def _discriminators(tmp: Path, *overrides: str) -> dict[str, dict[str, torch.Tensor]]:
    cfg = load_config(TINY / "srrescycgan_unpaired.yaml", overrides=list(overrides))
    scans = {s.scan for s in cfg.data.train + cfg.data.val + cfg.data.train_lq}
    if not all(catalogue.is_installed(s) for s in scans):
        pytest.skip(f"catalogue scans not installed: {sorted(scans)}")
    result = train_from_config(cfg, tmp, progress=False)
    state = load_checkpoint(result.last_checkpoint).train_state  # type: ignore[arg-type]
    assert state is not None
    return {r: state["networks"][r] for r in ("discriminator", "discriminator_lr")}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_cycle_discriminators_see_instance_noise(tmp_path: Path) -> None:
    plain = _discriminators(tmp_path / "plain")
    noisy = _discriminators(tmp_path / "noisy", NOISE)
    again = _discriminators(tmp_path / "again", NOISE)
    for role in plain:
        assert not _equal(plain[role], noisy[role]), f"{role}: instance noise had no effect"
        assert _equal(noisy[role], again[role]), f"{role}: the noisy run is not reproducible"
