"""Dense block, RRDB, residual block and activation factory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medsr.nn.activations import activation
from medsr.nn.dense import DenseBlock
from medsr.nn.residual import ResidualBlock
from medsr.nn.rrdb import RRDB, ResidualDenseBlock


@pytest.mark.parametrize("dims", [2, 3])
def test_dense_block_concatenates_input_and_units(gen: torch.Generator, dims: int) -> None:
    block = DenseBlock(dims, 5, growth=3, num_units=4).eval()
    x = torch.randn(2, 5, *([6] * dims), generator=gen)
    out = block(x)
    assert block.out_channels == 5 + 4 * 3
    assert out.shape == (2, 17, *([6] * dims))
    torch.testing.assert_close(out[:, :5], x)
    # unit i sees the input plus i previous unit outputs, through BN -> ELU -> conv (no bias)
    for i, unit in enumerate(block.units):
        assert isinstance(unit[0], nn.BatchNorm2d | nn.BatchNorm3d)
        assert isinstance(unit[1], nn.ELU)
        assert unit[2].in_channels == 5 + 3 * i and unit[2].bias is None


def test_dense_block_units_are_causal(gen: torch.Generator) -> None:
    block = DenseBlock(2, 2, growth=2, num_units=3).eval()
    x = torch.randn(1, 2, 5, 5, generator=gen)
    out = block(x)
    manual = x
    for unit in block.units:
        manual = torch.cat([manual, unit(manual)], dim=1)
    torch.testing.assert_close(out, manual)


@pytest.mark.parametrize("dims", [2, 3])
def test_rdb_is_identity_when_fuse_is_zero(gen: torch.Generator, dims: int) -> None:
    rdb = ResidualDenseBlock(dims, 4, growth=2)
    nn.init.zeros_(rdb.fuse.weight)
    nn.init.zeros_(rdb.fuse.bias)
    x = torch.randn(2, 4, *([5] * dims), generator=gen)
    torch.testing.assert_close(rdb(x), x)
    assert [c.in_channels for c in rdb.convs] == [4, 6, 8, 10]
    assert rdb.fuse.in_channels == 12


def test_rrdb_residual_scaling(gen: torch.Generator) -> None:
    block = RRDB(2, 4, growth=2, res_scale=0.2)
    x = torch.randn(1, 4, 6, 6, generator=gen)
    inner = block.blocks(x)
    torch.testing.assert_close(block(x), x + 0.2 * inner)
    assert len(block.blocks) == 3


def test_residual_block_identity_and_layout(gen: torch.Generator) -> None:
    block = ResidualBlock(3, 4, norm_kind="none", act="leakyrelu")
    for layer in block.body:
        if isinstance(layer, nn.Conv3d):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    x = torch.randn(1, 4, 4, 5, 6, generator=gen)
    torch.testing.assert_close(block(x), x)
    kinds = [type(m).__name__ for m in ResidualBlock(2, 4).body]
    assert kinds == ["Conv2d", "BatchNorm2d", "PReLU", "Conv2d", "BatchNorm2d"]


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("prelu", nn.PReLU), ("leakyrelu", nn.LeakyReLU), ("elu", nn.ELU), ("none", nn.Identity)],
)
def test_activation_factory(kind: str, cls: type[nn.Module]) -> None:
    assert isinstance(activation(kind), cls)


def test_activation_factory_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown activation 'gelu'; use one of"):
        activation("gelu")
