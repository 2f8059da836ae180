"""Pixel, gradient, SSIM and cycle losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import pytorch_msssim
import torch

from medsr.losses import (
    LOSSES,
    CharbonnierLoss,
    CycleConsistencyLoss,
    DifferenceMapMSELoss,
    GradientDifferenceLoss,
    L1Loss,
    MSELoss,
    SSIMLoss,
    TotalVariationLoss,
)

PRED = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
TARGET = torch.tensor([0.0, 2.0, 5.0, 4.0]).view(1, 1, 2, 2)
RAMP = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).view(1, 1, 2, 2)


def test_l1_mse_cycle_hand_values() -> None:
    torch.testing.assert_close(L1Loss()(PRED, TARGET), torch.tensor(0.75))
    torch.testing.assert_close(MSELoss()(PRED, TARGET), torch.tensor(1.25))
    torch.testing.assert_close(CycleConsistencyLoss()(PRED, TARGET), torch.tensor(0.75))


def test_charbonnier_hand_value_and_eps() -> None:
    got = CharbonnierLoss(eps=0.5)(PRED, TARGET)
    expected = (math.sqrt(1.25) + 0.5 + math.sqrt(4.25) + 0.5) / 4
    torch.testing.assert_close(got, torch.tensor(expected))
    torch.testing.assert_close(CharbonnierLoss()(PRED, PRED), torch.tensor(1e-3))  # eps at zero
    with pytest.raises(ValueError, match="eps"):
        CharbonnierLoss(eps=0.0)


def test_difference_map_mse(gen: torch.Generator) -> None:
    pred, x_hq, x_lq = (torch.rand(2, 1, 8, 8, generator=gen) for _ in range(3))
    torch.testing.assert_close(DifferenceMapMSELoss()(pred, x_hq, x_lq), MSELoss()(pred, x_hq))
    hand = (((pred - x_lq) - (x_hq - x_lq)) ** 2).mean()
    torch.testing.assert_close(DifferenceMapMSELoss()(pred, x_hq, x_lq), hand)
    with pytest.raises(ValueError, match="x_lq"):
        DifferenceMapMSELoss()(pred, x_hq, x_lq[..., :4])


def test_gdl_hand_values_2d() -> None:
    zero = torch.zeros_like(RAMP)
    # H diffs of RAMP: [2, 3] (mean 2.5); W diffs: [1, 2] (mean 1.5)
    torch.testing.assert_close(GradientDifferenceLoss()(RAMP, zero), torch.tensor(4.0))
    torch.testing.assert_close(GradientDifferenceLoss(alpha=2)(RAMP, zero), torch.tensor(9.0))


def test_gdl_hand_value_3d_and_invariances(gen: torch.Generator) -> None:
    spike = torch.zeros(1, 1, 2, 2, 2)
    spike[0, 0, 0, 0, 0] = 1.0
    # along each axis one of four differences is 1 -> 0.25 per axis
    torch.testing.assert_close(
        GradientDifferenceLoss()(spike, torch.zeros_like(spike)), torch.tensor(0.75)
    )
    x = torch.rand(2, 1, 6, 7, 5, generator=gen)
    gdl = GradientDifferenceLoss()
    assert gdl(x + 3.0, x) < 1e-6  # offsets have no gradient
    assert gdl(-x, x) < 1e-6  # only gradient magnitudes are compared
    assert gdl(x * 2, x) > 0.1


def test_total_variation() -> None:
    torch.testing.assert_close(TotalVariationLoss()(RAMP), torch.tensor(4.0))
    torch.testing.assert_close(TotalVariationLoss(squared=True)(RAMP), torch.tensor(9.0))
    assert TotalVariationLoss()(torch.ones(1, 1, 3, 3, 3)) == 0
    with pytest.raises(ValueError, match="batch"):
        TotalVariationLoss()(torch.ones(3, 3))


@pytest.mark.parametrize("shape", [(2, 1, 24, 20), (1, 1, 12, 14, 16)])
def test_ssim_loss_matches_pytorch_msssim(shape: tuple[int, ...], gen: torch.Generator) -> None:
    a = torch.rand(shape, generator=gen)
    b = (a + 0.2 * torch.rand(shape, generator=gen)).clamp(0, 1)
    loss = SSIMLoss(data_range=1.0)
    torch.testing.assert_close(loss(a, a), torch.tensor(0.0), atol=1e-6, rtol=0)
    reference = 1 - pytorch_msssim.ssim(a, b, data_range=1.0, win_size=11, win_sigma=1.5)
    torch.testing.assert_close(loss(a, b), reference, atol=1e-5, rtol=0)
    b.requires_grad_(True)
    loss(a, b).backward()
    assert b.grad is not None and torch.isfinite(b.grad).all()


def test_shape_and_argument_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        L1Loss()(PRED, TARGET.view(1, 1, 4, 1))
    with pytest.raises(ValueError, match="data_range"):
        SSIMLoss(data_range=0.0)
    with pytest.raises(ValueError, match="alpha"):
        GradientDifferenceLoss(alpha=0)


def test_registry_builds_pixel_losses() -> None:
    assert isinstance(LOSSES.build("charbonnier", eps=1e-3), CharbonnierLoss)
    assert isinstance(LOSSES.build("ssim", data_range=1.0), SSIMLoss)
    with pytest.raises(KeyError, match="did you mean"):
        LOSSES.get("charbonier")
