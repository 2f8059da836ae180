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
