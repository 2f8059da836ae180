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
WIDTHS = "[32, 64, 128, 256, 512]"  # the bundled dfgan-ct-qd (stage 5)


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
    cfg = _cfg("{features: [16, 32, 64, 128, 256], keep_low_band: 2.0}")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="use the same architecture"):
        init_generator(cfg, gen)


NARROW = [8, 16, 32, 64, 128]


def _narrow_checkpoint(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    """A 8-128 DFGAN U-Net with random weights and BN statistics, saved as a checkpoint."""
    from medsr.artifact.checkpoint import Checkpoint, save_checkpoint
    from medsr.data.intensity import IntensityNorm
    from medsr.models.generators.dfgan_unet import DFGANUNet

    torch.manual_seed(1)
    net = DFGANUNet(features=NARROW, keep_low_band=2.0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1.0, 0.2)
                m.bias.normal_(0.0, 0.1)
    ckpt = Checkpoint(
        model_name="dfgan_unet",
        model_kwargs={"features": NARROW, "keep_low_band": 2.0},
        modality="CT",
        spatial_dims=2,
        scale=(1, 1, 1),
        intensity=IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0),
        state_dict=net.state_dict(),
        config={},
    )
    return save_checkpoint(ckpt, tmp_path / "narrow.pt"), net


def _widen_cfg(ref: Path | str, widths: str, widen: bool = True):  # type: ignore[no-untyped-def]
    return load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[
            f"networks.generator.kwargs={{features: {widths}, keep_low_band: 2.0}}",
            f"train.init_generator={ref}",
            f"train.init_widen={str(widen).lower()}",
        ],
    )


def test_init_widen_keeps_the_narrow_networks_function(tmp_path: Path) -> None:
    ref, narrow = _narrow_checkpoint(tmp_path)
    cfg = _widen_cfg(ref, "[16, 32, 64, 128, 256]")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    init_generator(cfg, gen)
    x = torch.rand(2, 1, 48, 32) * 0.3
    for mode in (False, True):  # eval (running BN statistics) and train (batch statistics)
        gen.train(mode)
        narrow.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(gen(x), narrow(x), rtol=1e-5, atol=1e-6)
    # the new channels are live: their incoming weights are not all zero, while the old
    # outputs' weights from them are
    state = gen.state_dict()
    assert state["inc.0.weight"][8:].abs().sum() > 0
    merge = state["merge.0.0.weight"]  # input: cat(skip 128, up 128), old: 64 + 64
    assert merge[:64, 64:128].abs().sum() == 0 and merge[:64, 192:].abs().sum() == 0
    assert merge[:64, 128:192].abs().sum() > 0
    up = state["up.0.weight"]  # transposed conv (in 256, out 128): old outputs from new inputs
    assert up[128:, :64].abs().sum() == 0 and up[:128, :64].abs().sum() > 0
    # without init_widen the same checkpoint is another architecture
    with pytest.raises(ConfigError, match="use the same architecture"):
        init_generator(_widen_cfg(ref, "[16, 32, 64, 128, 256]", widen=False), gen)


def test_init_widen_refuses_a_narrower_target_and_a_missing_checkpoint(tmp_path: Path) -> None:
    ref, _ = _narrow_checkpoint(tmp_path)
    cfg = _widen_cfg(ref, "[4, 8, 16, 32, 64]")
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="none of them wider"):
        init_generator(cfg, gen)
    with pytest.raises(ConfigError, match=r"init_widen needs train\.init_generator"):
        load_config(
            CONFIGS / "tiny" / "dfgan.yaml",
            overrides=["train.init_generator=", "train.init_widen=true"],
        )


def test_init_widen_refuses_a_network_that_cannot_widen() -> None:
    cfg = load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[
            "networks.generator.name=attn_dfgan_unet",
            "networks.generator.kwargs={features: [16, 32, 64, 128, 256], keep_low_band: 2.0}",
            "train.init_generator=attn-dfgan-ct-qd",
            "train.init_widen=true",
        ],
    )
    gen = build_networks(cfg, torch.device("cpu"))["generator"]
    with pytest.raises(ConfigError, match="CBAM"):
        init_generator(cfg, gen)
