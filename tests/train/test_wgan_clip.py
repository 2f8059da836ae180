"""WGAN with weight clipping (recipe ``wgan``): the critic stays inside the clip while it trains
with RMSProp, and a WGAN without any Lipschitz constraint is refused at load time."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.data import catalogue
from medsr.errors import ConfigError
from medsr.train import train_from_config
from medsr.train.build import build_networks, build_optimizer

from .conftest import TINY

WGAN = TINY / "mdcsrn_wgan.yaml"
WGANGP = TINY / "mdcsrn_wgangp.yaml"


def test_critic_weights_stay_within_the_clip(tmp_path: Path) -> None:
    cfg = load_config(WGAN)
    scans = {s.scan for s in cfg.data.train + cfg.data.val}
    if not all(catalogue.is_installed(s) for s in scans):
        pytest.skip(f"catalogue scans not installed: {sorted(scans)}")
    clip = cfg.train.weight_clip
    assert clip == 0.01 and cfg.optim["discriminator"].name == "rmsprop"
    before = build_networks(cfg, torch.device("cpu"))["discriminator"].state_dict()
    # the initial critic is far outside the clip, so the test sees the clamp act
    assert max(float(v.abs().max()) for v in before.values()) > 10 * clip

    result = train_from_config(cfg, tmp_path / "run", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    d_losses = [r["d_loss"] for r in rows if "d_loss" in r]
    assert d_losses and all(math.isfinite(v) for v in d_losses)
    assert not any("d_gp" in r for r in rows)  # no penalty in this recipe

    critic = load_checkpoint(result.last_checkpoint).train_state["networks"]["discriminator"]  # type: ignore[index]
    values = torch.cat([v.flatten().float() for v in critic.values() if v.is_floating_point()])
    assert float(values.abs().max()) <= clip
    assert bool((values.abs() == clip).any())  # clamped, not merely small
    changed = [k for k, v in critic.items() if not torch.equal(v, before[k].clamp(-clip, clip))]
    assert changed, "the critic did not train beyond the first clamp"


def test_update_clamps_only_the_critic() -> None:
    from medsr.train.context import StepContext
    from medsr.train.terms import GeneratorTerms

    gen, disc = torch.nn.Linear(4, 4), torch.nn.Linear(4, 1)
    with torch.no_grad():
        gen.weight.fill_(0.5)
        disc.weight.fill_(0.5)
    opts = {
        r: torch.optim.SGD(n.parameters(), lr=0.1)
        for r, n in (("generator", gen), ("discriminator", disc))
    }
    ctx = StepContext(
        nets={"generator": gen, "discriminator": disc}, optimizers=opts, scalers={},
        terms=GeneratorTerms({}, feature_net=None, feature_trainable=False, device=torch.device("cpu")),
        adversarial=None, adv_weight=0.0, penalty=None, noise=None, options=None, paired=True,
        device=torch.device("cpu"), amp_dtype=None, generator=torch.Generator(), weight_clip=0.05,
    )  # fmt: skip
    x = torch.ones(2, 4)
    with ctx.only("generator"):
        ctx.update(("generator",), disc(gen(x)).sum())
    assert float(gen.weight.detach().abs().max()) > 0.3  # a generator update is never clipped
    assert float(disc.weight.detach().abs().min()) == 0.5  # and leaves the critic alone
    with ctx.only("discriminator"):
        ctx.update(("discriminator",), disc(gen(x).detach()).sum())
    values = torch.cat([p.detach().flatten() for p in disc.parameters()])
    assert float(values.abs().max()) == pytest.approx(0.05)
    assert float(gen.weight.detach().abs().max()) > 0.3


def test_rmsprop_is_built_from_the_config() -> None:
    cfg = load_config(WGAN)
    opt = build_optimizer(cfg.optim["discriminator"], [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, torch.optim.RMSprop)
    assert opt.defaults["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("path", "overrides", "message"),
    [
        (  # an unconstrained WGAN: no penalty, no clipping
            WGANGP,
            ["losses.adversarial.gradient_penalty=0"],
            r"unconstrained WGAN.*gradient_penalty: 10.*train\.weight_clip: 0\.01",
        ),
        (WGAN, ["train.weight_clip=0"], r"unconstrained WGAN.*train\.recipe: wgan with"),
        (
            WGAN,
            ["losses.adversarial.gradient_penalty=10"],
            r"weight_clip and losses\.adversarial\.gradient_penalty are both set",
        ),
        (WGAN, ["losses.adversarial.name=lsgan"], r"train\.weight_clip=0\.01 constrains a WGAN"),
        (WGAN, ["train.weight_clip=-0.01"], r"train\.weight_clip must be >= 0"),
        (
            WGANGP,
            ["train.recipe=wgan"],
            r"recipe 'wgan' clips the critic's weights.*train\.weight_clip: 0\.01",
        ),
    ],
)
def test_bad_wgan_configs_are_refused_with_the_fix(
    path: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(path, overrides=overrides)
