"""Engine pieces: the step plan (mDCSRN schedule), learning-rate schedules, EMA, bf16 autocast
with WGAN-GP, the CLI, and the trainer leaving the caller's RNG alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from medsr.cli.main import main
from medsr.config import load_config
from medsr.config.schema import ScheduleConfig, TrainConfig
from medsr.train import train_from_config
from medsr.train.ema import EMA
from medsr.train.schedule import lr_factor, plan_step

from .conftest import TINY


def test_mdcsrn_schedule() -> None:
    cfg = TrainConfig(recipe="wgan_gp", steps=100, pretrain_steps=3, d_warmup_steps=2, n_critic=7,
                      burst_every=4, burst_steps=10)  # fmt: skip
    plans = [plan_step(cfg, s) for s in range(12)]
    assert [p.phase for p in plans[:6]] == ["pretrain"] * 3 + ["d_warmup"] * 2 + ["adversarial"]
    assert all(p.d_updates == 0 and p.g_update for p in plans[:3])
    assert all(p.d_updates == 1 and not p.g_update for p in plans[3:5])
    assert [p.d_updates for p in plans[5:12]] == [7, 7, 7, 7, 17, 7, 7]  # a burst every 4 steps
    assert plans[5].adv_step == 2  # instance-noise clock starts with the GAN phase
    assert plan_step(TrainConfig(recipe="supervised", steps=5), 3).phase == "supervised"


def test_lr_schedules() -> None:
    multi = ScheduleConfig(kind="multistep", milestones=[10, 20], gamma=0.1)
    assert [lr_factor(multi, step=s, total=30) for s in (0, 9, 10, 25)] == pytest.approx(
        [1, 1, 0.1, 0.01]
    )
    cos = ScheduleConfig(kind="cosine", final_factor=0.1)
    assert lr_factor(cos, step=0, total=11) == 1.0 and lr_factor(
        cos, step=10, total=11
    ) == pytest.approx(0.1)
    assert lr_factor(cos, step=5, total=11) == pytest.approx(0.55)
    warm = ScheduleConfig(kind="linear", warmup=4)
    assert lr_factor(warm, step=0, total=100) == pytest.approx(0.25)


def test_ema_tracks_weights() -> None:
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, decay=0.5, start=1)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net, step=0)  # before start: copy
    torch.testing.assert_close(ema.shadow.weight, net.weight)
    with torch.no_grad():
        net.weight.fill_(3.0)
    ema.update(net, step=1)
    torch.testing.assert_close(ema.shadow.weight, torch.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="decay"):
        EMA(net, decay=1.0)


def test_bf16_autocast_keeps_wgan_gp_finite_and_leaves_global_rng_alone(tmp_path: Path) -> None:
    cfg = load_config(TINY / "mdcsrn_wgangp.yaml", overrides=["train.amp=bf16"])
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    result = train_from_config(cfg, tmp_path / "run", progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    gp = [r["d_gp"] for r in rows if "d_gp" in r]
    assert len(gp) >= 4 and all(math.isfinite(v) and v >= 0 for v in gp)
    assert result.best_value is not None and math.isfinite(result.best_value)


def test_cli_check_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(TINY / "dfgan.yaml")
    assert main(["train", config, "--check", "--set", "train.steps=7"]) == 0
    assert "steps: 7" in capsys.readouterr().out
    assert main(["train", config, "--set", "train.stepz=7"]) == 2
    assert "unknown key 'stepz'" in capsys.readouterr().err
    assert main(["train"]) == 2
    out = tmp_path / "run"
    out.mkdir()
    (out / "x").write_text("taken")
    assert main(["train", config, "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_trains_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    code = main(["train", str(TINY / "srrescycgan.yaml"), "--out", str(run), "--no-progress",
                 "--set", "train.steps=2", "--set", "val.every=2"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert str(run / "model.pt") in out and "baseline psnr" in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["metric"] == "psnr"
    assert (run / "config.yaml").read_text().startswith("name: tiny-srrescycgan")


def test_update_clips_gradients_and_freezes_the_other_network() -> None:
    from medsr.train.context import StepContext
    from medsr.train.terms import GeneratorTerms

    gen, disc = torch.nn.Linear(4, 4), torch.nn.Linear(4, 1)
    opts = {"generator": torch.optim.SGD(gen.parameters(), lr=1.0),
            "discriminator": torch.optim.SGD(disc.parameters(), lr=1.0)}  # fmt: skip
    ctx = StepContext(
        nets={"generator": gen, "discriminator": disc}, optimizers=opts, scalers={},
        terms=GeneratorTerms({}, feature_net=None, feature_trainable=False, device=torch.device("cpu")),
        adversarial=None, adv_weight=0.0, penalty=None, noise=None, options=None, paired=True,
        device=torch.device("cpu"), amp_dtype=None, generator=torch.Generator(),
        grad_clip={"generator": 0.1},
    )  # fmt: skip
    before = [p.detach().clone() for p in gen.parameters()]
    d_before = [p.detach().clone() for p in disc.parameters()]
    with ctx.only("generator"):
        loss = 1000.0 * disc(gen(torch.ones(2, 4))).sum()
    assert all(not p.requires_grad for p in disc.parameters())
    ctx.update(("generator",), loss)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(gen.parameters(), before)])
    assert float(step.norm()) == pytest.approx(0.1, rel=1e-4)  # SGD lr 1: the clipped gradient
    assert all(torch.equal(p, b) for p, b in zip(disc.parameters(), d_before))
