"""Weight-normalised zero-mean convolution."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medsr.nn.wn_conv import ZeroMeanWNConv


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("dims", [2, 3])
def test_filters_are_zero_mean_with_norm_g(dims: int, transposed: bool) -> None:
    layer = ZeroMeanWNConv(dims, 3, 5, 3, transposed=transposed)
    with torch.no_grad():
        layer.weight_g.uniform_(0.5, 2.0)
        layer.weight_v.add_(1.0)  # a non-zero mean that the layer must remove
    w = layer.weight()
    flat = w.flatten(1)
    torch.testing.assert_close(flat.mean(dim=1), torch.zeros(flat.shape[0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(flat.norm(dim=1), layer.weight_g.flatten())
    assert layer.weight_g.numel() == (3 if transposed else 5)


def test_forward_is_reflect_padded_conv(gen: torch.Generator) -> None:
    layer = ZeroMeanWNConv(2, 2, 4, 5)
    x = torch.randn(1, 2, 7, 8, generator=gen)
    expected = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), layer.weight(), layer.bias)
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape == (1, 4, 7, 8)


def test_transposed_forward(gen: torch.Generator) -> None:
    layer = ZeroMeanWNConv(3, 4, 1, 5, transposed=True)
    x = torch.randn(1, 4, 5, 6, 7, generator=gen)
    expected = F.conv_transpose3d(x, layer.weight(), layer.bias, padding=2)
    torch.testing.assert_close(layer(x), expected)
    assert expected.shape == (1, 1, 5, 6, 7)


def test_zero_mean_filter_kills_constants() -> None:
    layer = ZeroMeanWNConv(2, 1, 3, 3, bias=False)
    out = layer(torch.full((1, 1, 6, 6), 3.0))
    torch.testing.assert_close(out, torch.zeros_like(out), atol=1e-5, rtol=0)


def test_rejects_even_kernel() -> None:
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ZeroMeanWNConv(2, 1, 1, 4)
