"""Divergence guard: the checks themselves, and rollbacks in real runs (NaN weights, a
discriminator collapse, a constant output), and the clear stop after too many failures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.config.schema import GuardConfig
from medsr.errors import ConfigError
from medsr.train import train_from_config
from medsr.train.guard import DivergenceGuard, TrainingDiverged
from medsr.train.trainer import Trainer

from .conftest import TINY


def test_guard_checks() -> None:
    cfg = GuardConfig(collapse_steps=3, constant_steps=2, max_recoveries=1)
    g = DivergenceGuard(cfg, adversarial="lsgan")
    assert g.check({"g_total": 1.0, "d_loss": 0.5, "g_adv": 1.0}) is None
    assert "non-finite" in (g.check({"g_total": math.nan}) or "")
    assert "non-finite" in (g.check({"d_loss": math.inf}) or "")
    collapse = {"d_loss": 1e-5, "g_adv": 40.0}
    assert g.check(collapse) is None and g.check(collapse) is None
    assert "collapse" in (g.check(collapse) or "")
    g.record_recovery(step=7, reason="collapse")
    assert g.check({"d_loss": 1e-5, "g_adv": 1.0}) is None  # the generator is not exploding
    assert g.check({"pred_std": 0.0}) is None
    assert "constant" in (g.check({"pred_std": 0.0}) or "")
    with pytest.raises(TrainingDiverged, match="max_recoveries=1"):
        g.record_recovery(step=8, reason="constant")
    wgan = DivergenceGuard(cfg, adversarial="wgan")  # a critic loss near 0 is normal for WGAN
    assert all(wgan.check({"d_loss": 0.0, "g_adv": 50.0}) is None for _ in range(5))
    g2 = DivergenceGuard(cfg, adversarial="vanilla")
    g2.record_recovery(step=4, reason="x")
    g2.record_checkpoint(4)
    assert g2.failures == 1  # a checkpoint at the failed step proves nothing
    g2.record_checkpoint(6)
    assert g2.failures == 0


def test_loss_spike_trips_after_consecutive_steps_only() -> None:
    cfg = GuardConfig(spike_factor=10.0, spike_window=60, spike_steps=3)
    g = DivergenceGuard(cfg, adversarial="wgan")
    rng = [0.008 + 0.001 * ((i * 7) % 5) for i in range(60)]
    for v in rng:  # a noisy but steady L1 loss, with an adversarial term that may be large
        assert g.check({"g_pixel": v, "g_adv": -50.0, "g_total": v - 0.05}) is None
    assert g.check({"g_pixel": 0.5}) is None and g.check({"g_pixel": 0.5}) is None
    assert g.check({"g_pixel": 0.009}) is None  # back to normal: the run resets
    assert g.check({"g_pixel": 0.5}) is None and g.check({"g_pixel": 0.5}) is None
    assert "loss spike" in (g.check({"g_pixel": 0.6}) or "")
    state = g.state_dict()
    g2 = DivergenceGuard(cfg)
    g2.load_state_dict(state)
    assert list(g2.content) == list(g.content) and g2.spike_run == 3
    old = {k: v for k, v in state.items() if k not in ("spike_run", "content")}
    DivergenceGuard(cfg).load_state_dict(old)  # checkpoints from before the check still load
    off = DivergenceGuard(GuardConfig(spike_steps=0))
    assert all(off.check({"g_pixel": 1e3 if i > 60 else 1e-3}) is None for i in range(70))
    with pytest.raises(ConfigError, match="spike_factor"):
        GuardConfig(spike_factor=0.5)


def _events(run: Path, name: str) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in lines if r.get("event") == name]


def test_nan_weights_roll_back_and_training_recovers(tmp_path: Path) -> None:
    cfg = load_config(TINY / "mdcsrn_wgangp.yaml", overrides=["checkpoint.keep_last=10"])
    fired = []

    def poison(trainer: Trainer, step: int, scalars: dict[str, float]) -> None:
        if step == 3 and not fired:
            fired.append(step)
            with torch.no_grad():
                next(trainer.nets["generator"].parameters()).fill_(math.nan)

    result = train_from_config(cfg, tmp_path / "run", progress=False, callbacks=[poison])
    assert result.rollbacks == 1 and result.steps == cfg.train.steps
    (event,) = _events(tmp_path / "run", "rollback")
    assert "non-finite" in str(event["reason"]) and event["to_step"] == 2
    state = load_checkpoint(result.last_checkpoint).train_state  # type: ignore[arg-type]
    assert state is not None and state["lr_scale"] == pytest.approx(0.5)
    for sd in state["networks"].values():
        assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())


@pytest.mark.parametrize(
    ("fake", "cause"),
    [
        ({"d_loss": 1e-6, "g_adv": 80.0}, "discriminator collapse"),
        ({"pred_std": 0.0}, "constant generator output"),
    ],
)
def test_collapse_and_constant_output_roll_back(
    fake: dict[str, float], cause: str, tmp_path: Path
) -> None:
    sets = [
        "train.steps=6",
        "checkpoint.every=2",
        "train.guard.collapse_steps=2",
        "train.guard.constant_steps=2",
    ]
    cfg = load_config(TINY / "srgan_x4.yaml", overrides=sets)
    seen: list[int] = []

    def collapse(trainer: Trainer, step: int, scalars: dict[str, float]) -> None:
        if step in (3, 4) and len(seen) < 2:
            seen.append(step)
            scalars.update(fake)

    result = train_from_config(cfg, tmp_path / "run", progress=False, callbacks=[collapse])
    assert result.rollbacks == 1 and result.steps == 6
    (event,) = _events(tmp_path / "run", "rollback")
    assert cause in str(event["reason"]) and event["step"] == 4 and event["to_step"] == 2


def test_stops_with_a_clear_message_after_max_recoveries(tmp_path: Path) -> None:
    cfg = load_config(TINY / "mdcsrn_wgangp.yaml", overrides=["train.guard.max_recoveries=2"])

    def always(trainer: Trainer, step: int, scalars: dict[str, float]) -> None:
        scalars["g_total"] = math.nan

    with pytest.raises(TrainingDiverged, match=r"diverged 3 times.*max_recoveries=2"):
        train_from_config(cfg, tmp_path / "run", progress=False, callbacks=[always])
    assert len(_events(tmp_path / "run", "rollback")) == 2
