"""Pixel-wise losses: L1, MSE, Charbonnier and the difference-map MSE of low-dose CT recipes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medsr.losses._checks import same_shape


class L1Loss(nn.Module):
    """Mean absolute error ``mean(|pred - target|)``.

    Shape:
        pred, target: any identical shape; output: scalar.
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("L1Loss", pred, target)
        return F.l1_loss(pred, target)


class MSELoss(nn.Module):
    """Mean squared error ``mean((pred - target)**2)``.

    Shape:
        pred, target: any identical shape; output: scalar.
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("MSELoss", pred, target)
        return F.mse_loss(pred, target)


class CharbonnierLoss(nn.Module):
    """Charbonnier (smooth L1) loss ``mean(sqrt((pred - target)**2 + eps**2))``.

    Lai et al., "Deep Laplacian Pyramid Networks for Fast and Accurate Super-Resolution",
    CVPR 2017. ``eps`` keeps the gradient finite at zero error; the loss of a perfect
    prediction is ``eps`` (not 0). LapSRN uses ``eps = 1e-3`` for intensities in [0, 1].

    Args:
        eps: Smoothing constant, in the units of the image.

    Raises:
        ValueError: If ``eps`` is not positive.

    Shape:
        pred, target: any identical shape; output: scalar.
    """

    def __init__(self, *, eps: float = 1e-3) -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("CharbonnierLoss", pred, target)
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


class DifferenceMapMSELoss(nn.Module):
    """MSE between difference maps ``(pred - x_lq)`` and ``(x_hq - x_lq)`` (low-dose CT).

    Algebraically this equals ``mse(pred, x_hq)``; it is kept as its own loss so that a recipe
    that states it (DFGAN-style residual supervision) reads as published. The difference maps are
    formed explicitly, so rounding differs from the plain MSE only at the ulp level.

    Shape:
        pred, x_hq, x_lq: identical shapes; output: scalar.
    """

    def forward(self, pred: Tensor, x_hq: Tensor, x_lq: Tensor) -> Tensor:
        same_shape("DifferenceMapMSELoss", pred, x_hq, "pred", "x_hq")
        same_shape("DifferenceMapMSELoss", pred, x_lq, "pred", "x_lq")
        return F.mse_loss(pred - x_lq, x_hq - x_lq)
