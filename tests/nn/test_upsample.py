"""Upsampling stage split and the sub-pixel convolution stage."""

from __future__ import annotations

import pytest
import torch

from medsr.nn.upsample import SubPixelConv, upsample_stages


@pytest.mark.parametrize(
    ("scale", "dims", "stages"),
    [
        (1, 2, []),
        (2, 2, [(2, 2)]),
        (3, 2, [(3, 3)]),
        (4, 3, [(2, 2, 2), (2, 2, 2)]),
        ((1, 4, 4), 3, [(1, 2, 2), (1, 2, 2)]),
        ((3, 4), 2, [(3, 2), (1, 2)]),
    ],
)
def test_stages(scale: int | tuple[int, ...], dims: int, stages: list[tuple[int, ...]]) -> None:
    assert upsample_stages(scale, dims) == stages


@pytest.mark.parametrize("scale", [5, 0, (2, 2, 2)])
def test_bad_scale(scale: int | tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="scale must be 1, 2, 3 or 4"):
        upsample_stages(scale, 2)


def test_subpixel_conv_shapes_and_channels() -> None:
    stage = SubPixelConv(3, 4, (1, 2, 2))
    assert stage.conv.out_channels == 16
    assert stage(torch.zeros(1, 4, 3, 3, 3)).shape == (1, 4, 3, 6, 6)
