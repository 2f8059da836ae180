"""CBAM: channel and spatial gates against hand computations; parameter layout."""

from __future__ import annotations

import pytest
import torch

from medsr.nn.cbam import CBAM, ChannelGate, SpatialGate


def test_channel_gate_matches_formula(gen: torch.Generator) -> None:
    gate = ChannelGate(32, reduction=16)
    x = torch.randn(2, 32, 5, 6, generator=gen)
    avg = x.mean(dim=(2, 3))
    mx = x.amax(dim=(2, 3))
    weights = torch.sigmoid(gate.mlp(avg) + gate.mlp(mx))
    torch.testing.assert_close(gate(x), x * weights[:, :, None, None])
    assert gate.mlp[0].out_features == 2  # 32 // 16


def test_spatial_gate_matches_formula(gen: torch.Generator) -> None:
    gate = SpatialGate(3).eval()
    x = torch.randn(2, 4, 5, 6, 7, generator=gen)
    pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
    expected = x * torch.sigmoid(gate.bn(gate.conv(pooled)))
    torch.testing.assert_close(gate(x), expected)
    assert gate.conv.kernel_size == (7, 7, 7) and gate.conv.bias is None


@pytest.mark.parametrize("channels", [32, 64, 512])
def test_cbam_parameter_count(channels: int) -> None:
    hidden = channels // 16
    mlp = channels * hidden + hidden + hidden * channels + channels
    spatial = 2 * 7 * 7 + 2  # conv without bias + one-channel batch norm
    assert sum(p.numel() for p in CBAM(2, channels).parameters()) == mlp + spatial


def test_cbam_is_channel_then_spatial(gen: torch.Generator) -> None:
    block = CBAM(2, 8, reduction=4).eval()
    x = torch.randn(1, 8, 6, 6, generator=gen)
    torch.testing.assert_close(block(x), block.spatial(block.channel(x)))
