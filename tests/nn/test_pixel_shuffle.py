"""N-D pixel shuffle: agreement with torch in 2D, with an explicit index rule in 3D, inverses."""

from __future__ import annotations

import pytest
import torch

from medsr.nn.pixel_shuffle import PixelShuffle, PixelUnshuffle, pixel_shuffle, pixel_unshuffle


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_2d_matches_torch_pixel_shuffle(gen: torch.Generator, scale: int) -> None:
    x = torch.randn(2, 3 * scale**2, 5, 7, generator=gen)
    torch.testing.assert_close(pixel_shuffle(x, scale), torch.nn.PixelShuffle(scale)(x))
    y = torch.randn(2, 3, 5 * scale, 7 * scale, generator=gen)
    torch.testing.assert_close(pixel_unshuffle(y, scale), torch.nn.PixelUnshuffle(scale)(y))


def test_3d_matches_hand_index_rule(gen: torch.Generator) -> None:
    s, c, d, h, w = 2, 2, 3, 2, 3
    x = torch.randn(1, c * s**3, d, h, w, generator=gen)
    expected = torch.empty(1, c, d * s, h * s, w * s)
    for ch in range(c):
        for i in range(s):
            for j in range(s):
                for k in range(s):
                    src = ch * s**3 + i * s**2 + j * s + k
                    expected[0, ch, i::s, j::s, k::s] = x[0, src]
    torch.testing.assert_close(pixel_shuffle(x, s), expected)
    torch.testing.assert_close(pixel_unshuffle(expected, s), x)


def test_3d_per_axis_factors_hand_rule(gen: torch.Generator) -> None:
    x = torch.randn(2, 2 * 1 * 3 * 2, 2, 3, 4, generator=gen)
    out = pixel_shuffle(x, (1, 3, 2))
    assert out.shape == (2, 2, 2, 9, 8)
    # channel c * 6 + j * 2 + k goes to (d, 3h + j, 2w + k)
    for j in range(3):
        for k in range(2):
            torch.testing.assert_close(out[:, 1, :, j::3, k::2], x[:, 6 + j * 2 + k])


@pytest.mark.parametrize("scale", [2, (1, 2, 3), (3, 1, 2)])
def test_round_trip_3d(gen: torch.Generator, scale: int | tuple[int, ...]) -> None:
    y = torch.randn(2, 3, 6, 6, 6, generator=gen)
    assert torch.equal(pixel_shuffle(pixel_unshuffle(y, scale), scale), y)
    assert torch.equal(PixelShuffle(scale)(PixelUnshuffle(scale)(y)), y)


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        pixel_shuffle(torch.zeros(1, 6, 3, 3), 2)
    with pytest.raises(ValueError, match="divisible"):
        pixel_unshuffle(torch.zeros(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="positive int"):
        pixel_shuffle(torch.zeros(1, 8, 3, 3, 3), (2, 2))
