"""Input validation messages."""

from __future__ import annotations

import pytest
import torch

from medsr.nn.validation import check_input


def test_accepts_good_input() -> None:
    check_input(torch.zeros(1, 2, 8, 12), model="M", spatial_dims=2, in_channels=2, multiple_of=4)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 1, 8), "2D batch"),
        ((1, 3, 8, 8), "in_channels=1"),
        ((1, 1, 8, 10), "divisible by"),
        ((1, 1, 2, 8), ">= 3"),
    ],
)
def test_rejects_with_fix(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_input(
            torch.zeros(shape),
            model="M",
            spatial_dims=2,
            in_channels=1,
            multiple_of=(1, 4),
            min_size=3,
        )
