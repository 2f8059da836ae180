"""Sliding-window invariants: identity exactness, nearest upsampling, exact halo mode, no seams."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from medsr.nn.sliding_window import blend_weights, sliding_window_inference, window_starts


def _rand(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("blend", ["gaussian", "hann", "constant"])
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
@pytest.mark.parametrize("shape", [(1, 2, 23, 17), (2, 1, 9, 13, 11)])
def test_identity_predictor_is_exact(blend: str, overlap: float, shape: tuple[int, ...]) -> None:
    x = _rand(shape)
    win = 8 if len(shape) == 4 else (4, 6, 5)
    y = sliding_window_inference(
        x,
        lambda t: t,
        window=win,
        overlap=overlap,
        blend=blend,
        batch_size=3,  # type: ignore[arg-type]
    )
    assert torch.equal(y, x)


def test_nearest_x2_equals_global_nearest() -> None:
    x = _rand((1, 1, 15, 11, 9))

    def up(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t, scale_factor=(1, 2, 2), mode="nearest")

    y = sliding_window_inference(x, up, window=(4, 5, 4), scale=(1, 2, 2), overlap=0.5)
    torch.testing.assert_close(y, up(x), rtol=0, atol=1e-7)


def test_window_larger_than_volume() -> None:
    x = _rand((1, 1, 5, 7))
    y = sliding_window_inference(x, lambda t: t * 2, window=16, overlap=0.5)
    torch.testing.assert_close(y, x * 2)


def _convnet(dims: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    return nn.Sequential(
        conv(1, 4, 3, padding=1),
        nn.ELU(),
        conv(4, 4, 3, padding=1),
        nn.ELU(),
        conv(4, 1, 3, padding=1),
    ).eval()


@pytest.mark.parametrize(
    "dims,shape,core", [(2, (1, 1, 37, 29), 8), (3, (1, 1, 19, 15, 13), (5, 6, 4))]
)
def test_exact_mode_equals_full_pass(dims: int, shape: tuple[int, ...], core: object) -> None:
    net = _convnet(dims)
    x = _rand(shape)
    with torch.no_grad():
        full = net(x)
    y = sliding_window_inference(x, net, window=core, halo=3, batch_size=2)  # type: ignore[arg-type]
    assert (y - full).abs().max().item() <= 1e-5
    # a halo below the receptive-field radius (3) is visibly wrong: the check can fail
    y_short = sliding_window_inference(x, net, window=core, halo=1)  # type: ignore[arg-type]
    assert (y_short - full).abs().max().item() > 1e-4


def test_blended_interior_close_to_full_pass() -> None:
    net = _convnet(2)
    x = _rand((1, 1, 64, 64))
    with torch.no_grad():
        full = net(x)
    y = sliding_window_inference(x, net, window=24, overlap=0.5, blend="gaussian")
    # Window borders see zero padding; blending down-weights them. Interior tolerance stated here.
    err = (y - full)[..., 3:-3, 3:-3].abs().max().item()
    assert err < 0.005  # measured 0.0018 (gaussian, overlap 0.5); constant blending gives 0.079


def test_bad_predictor_shape_is_reported() -> None:
    x = _rand((1, 1, 8, 8))
    with pytest.raises(ValueError, match="check the scale"):
        sliding_window_inference(x, lambda t: t, window=4, scale=2)


def test_helpers() -> None:
    assert window_starts(10, 4, 3) == [0, 3, 6]
    assert window_starts(3, 4, 2) == [0]
    w = blend_weights(7, "hann")
    assert (w > 0).all() and torch.allclose(w, w.flip(0))
    with pytest.raises(ValueError, match="unknown blend"):
        blend_weights(4, "cosine")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(189, 232, 188), (256, 256, 256), (90, 108, 90), (1000,)])
def test_balanced_windows_tile_with_the_fewest_windows(shape: tuple[int, ...]) -> None:
    from medsr.nn.sliding_window import balanced_windows, window_starts

    win, ov = balanced_windows(shape, max_window=112, min_overlap=16)
    for n, w, o in zip(shape, win, ov, strict=True):
        assert w <= 112
        starts = window_starts(n, w, max(1, round(w * (1 - o))))
        fewest = 1 if n <= 112 else -(-(n - 16) // (112 - 16))
        assert len(starts) == fewest
        assert starts[-1] + w == n
        if len(starts) > 1:  # neighbours share at least the requested overlap
            assert min(a + w - b for a, b in itertools.pairwise(starts)) >= 16


def test_per_axis_overlap_keeps_the_identity_exact() -> None:
    from medsr.nn.sliding_window import balanced_windows

    x = torch.rand(1, 1, 29, 41, 23, generator=torch.Generator().manual_seed(3))
    win, ov = balanced_windows(x.shape[2:], max_window=(12, 20, 23), min_overlap=4)
    assert ov[2] == 0.0 and ov[0] > 0 and ov[1] > 0
    out = sliding_window_inference(x, lambda t: t, window=win, overlap=ov)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="overlap"):
        sliding_window_inference(x, lambda t: t, window=win, overlap=(0.1, 0.2))
