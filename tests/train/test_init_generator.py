"""`train.init_generator`: the checkpoint must hold the configured network; options without weights
(DFGAN's low-band cut-off) may differ."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.zoo import resolve_model
from medsr.config import load_config
from medsr.errors import ConfigError
from medsr.train.build import build_networks, init_generator

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
WIDTHS = "[16, 32, 64, 128, 256]"


def _cfg(kwargs: str):  # type: ignore[no-untyped-def]
    return load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[f"networks.generator.kwargs={kwargs}", "train.init_generator=dfgan-ct-qd"],
    )


def test_a_weightless_option_may_differ_from_the_checkpoint() -> None:
    cfg = _cfg(f"{{features: {WIDTHS}, keep_low_band: 1.0}}")  # the bundled model: 2.0
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    init_generator(cfg, gen)
    shipped = load_checkpoint(resolve_model("dfgan-ct-qd")).state_dict
    for key, value in gen.state_dict().items():
        torch.testing.assert_close(value, shipped[key].to(value.dtype))
    assert gen.low_band.sigma == 1.0  # type: ignore[union-attr]


def test_another_network_is_refused() -> None:
    cfg = _cfg("{features: [8, 16, 32, 64, 128], keep_low_band: 2.0}")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="use the same architecture"):
        init_generator(cfg, gen)


def _widen_cfg(widths: str, widen: bool = True):  # type: ignore[no-untyped-def]
    return load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[
            f"networks.generator.kwargs={{features: {widths}, keep_low_band: 2.0}}",
            "train.init_generator=dfgan-ct-qd",
            f"train.init_widen={str(widen).lower()}",
        ],
    )


def test_init_widen_keeps_the_narrow_networks_function() -> None:
    cfg = _widen_cfg("[32, 64, 128, 256, 512]")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    init_generator(cfg, gen)
    ckpt = load_checkpoint(resolve_model("dfgan-ct-qd"))
    narrow = build_networks(_cfg(f"{{features: {WIDTHS}, keep_low_band: 2.0}}"), torch.device("cpu"))
    narrow["generator"].load_state_dict(
        {k: v.float() for k, v in ckpt.state_dict.items()}, strict=True
    )
    x = torch.rand(2, 1, 48, 32) * 0.3
    for mode in (False, True):  # eval (running BN statistics) and train (batch statistics)
        gen.train(mode)
        narrow["generator"].train(mode)
        with torch.no_grad():
            torch.testing.assert_close(gen(x), narrow["generator"](x), rtol=1e-5, atol=1e-6)
    # the new channels are live: their incoming weights are not all zero, the old outputs'
    # weights from them are
    first = gen.state_dict()["inc.0.weight"]
    assert first[16:].abs().sum() > 0
    merge = gen.state_dict()["merge.0.0.weight"]  # input: cat(skip 256, up 256), old 128 + 128
    assert merge[:128, 128:256].abs().sum() == 0 and merge[:128, 384:].abs().sum() == 0
    assert merge[:128, 256:384].abs().sum() > 0


def test_init_widen_refuses_a_narrower_target_and_a_missing_checkpoint() -> None:
    cfg = _widen_cfg("[8, 16, 32, 64, 128]")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="none of them wider"):
        init_generator(cfg, gen)
    with pytest.raises(ConfigError, match="init_widen needs train.init_generator"):
        load_config(
            CONFIGS / "tiny" / "dfgan.yaml",
            overrides=["train.init_generator=", "train.init_widen=true"],
        )


def test_init_widen_refuses_a_network_that_cannot_widen() -> None:
    cfg = load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[
            "networks.generator.name=attn_dfgan_unet",
            f"networks.generator.kwargs={{features: {WIDTHS}, keep_low_band: 2.0}}",
            "train.init_generator=attn-dfgan-ct-qd",
            "train.init_widen=true",
        ],
    )
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="CBAM"):
        init_generator(cfg, gen)
