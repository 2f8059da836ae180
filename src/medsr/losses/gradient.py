"""Gradient-based losses: gradient-difference loss (GDL) and total variation, 2D and 3D."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medsr.losses._checks import same_shape, spatial_dims_of


def _abs_diff(x: Tensor, axis: int) -> Tensor:
    return torch.diff(x, dim=axis).abs()


class GradientDifferenceLoss(nn.Module):
    """Gradient-difference loss of Mathieu, Couprie & LeCun, "Deep multi-scale video prediction
    beyond mean square error", ICLR 2016.

    ``sum over spatial axes a of mean(| |d_a target| - |d_a pred| | ** alpha)`` where ``d_a`` is
    the forward difference along axis ``a``. The paper sums over pixels; the mean keeps the value
    independent of the patch size (a constant factor per axis).

    Args:
        alpha: Exponent (the paper uses 1 or 2).

    Raises:
        ValueError: If ``alpha`` is not positive.

    Shape:
        pred, target: ``(B, C, H, W)`` or ``(B, C, D, H, W)``; output: scalar.
    """

    def __init__(self, *, alpha: float = 1.0) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        self.alpha = alpha

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("GradientDifferenceLoss", pred, target)
        dims = spatial_dims_of("GradientDifferenceLoss", pred)
        total = pred.new_zeros(())
        for axis in range(2, 2 + dims):
            gap = (_abs_diff(target, axis) - _abs_diff(pred, axis)).abs()
            total = total + (gap**self.alpha).mean()
        return total


class TotalVariationLoss(nn.Module):
    """Anisotropic total variation ``sum over axes a of mean(|d_a pred|)`` (or of squares).

    Rudin, Osher & Fatemi, "Nonlinear total variation based noise removal algorithms",
    Physica D 60, 1992. A regulariser on one image; it takes no target.

    Args:
        squared: Use ``mean(d_a pred ** 2)`` (smooth variant) instead of absolute values.

    Shape:
        pred: ``(B, C, H, W)`` or ``(B, C, D, H, W)``; output: scalar.
    """

    def __init__(self, *, squared: bool = False) -> None:
        super().__init__()
        self.squared = squared

    def forward(self, pred: Tensor) -> Tensor:
        dims = spatial_dims_of("TotalVariationLoss", pred)
        total = pred.new_zeros(())
        for axis in range(2, 2 + dims):
            d = torch.diff(pred, dim=axis)
            total = total + (d**2 if self.squared else d.abs()).mean()
        return total
