"""Differentiable SSIM in torch, 2D and 3D, for training losses.

Same definition as :func:`medsr.metrics.functional.ssim`: an 11-tap Gaussian window with
sigma 1.5 applied separably without padding (so only the valid region is produced, exactly the
region scikit-image averages over), population covariance, ``K1 = 0.01``, ``K2 = 0.03``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from medsr.metrics.window import SSIM_K1, SSIM_K2, SSIM_RADIUS, gaussian_taps


def _separable_valid(x: torch.Tensor, taps: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """Depthwise separable filtering along every spatial axis, 'valid' borders."""
    channels = x.shape[1]
    conv = F.conv2d if spatial_dims == 2 else F.conv3d
    out = x
    for axis in range(spatial_dims):
        shape = [1] * spatial_dims
        shape[axis] = taps.numel()
        weight = taps.reshape(1, 1, *shape).expand(channels, 1, *shape)
        out = conv(out, weight, groups=channels)
    return out


def ssim_torch(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | torch.Tensor,
    spatial_dims: Literal[2, 3],
    reduction: Literal["mean", "none"] = "mean",
) -> torch.Tensor:
    """Mean SSIM of a batch, differentiable with respect to both inputs.

    Args:
        pred: Images under test.
        target: Reference images, same shape.
        data_range: The range ``R``: a number, or a tensor of one value per batch item.
        spatial_dims: 2 for ``(B, C, H, W)``, 3 for ``(B, C, D, H, W)``.
        reduction: ``"mean"`` for one scalar, ``"none"`` for one value per item and channel.

    Returns:
        A scalar (``"mean"``) or a ``(B, C)`` tensor (``"none"``), in the inputs' dtype.

    Raises:
        ValueError: On mismatched or wrongly shaped inputs, a non-positive range, or a
            spatial axis shorter than 11.

    Shape:
        pred, target: ``(B, C, H, W)`` or ``(B, C, D, H, W)``, every spatial axis >= 11.
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )
    if pred.ndim != spatial_dims + 2:
        layout = "(B, C, D, H, W)" if spatial_dims == 3 else "(B, C, H, W)"
        raise ValueError(f"expected a {layout} tensor, got {tuple(pred.shape)}")
    win = 2 * SSIM_RADIUS + 1
    if min(pred.shape[2:]) < win:
        raise ValueError(f"every spatial axis needs >= {win} voxels, got {tuple(pred.shape)}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    rng = torch.as_tensor(data_range, dtype=pred.dtype, device=pred.device)
    if torch.any(rng <= 0):
        raise ValueError("data_range must be positive")
    rng = rng.reshape(-1, *([1] * (pred.ndim - 1))) if rng.ndim == 1 else rng

    taps = torch.as_tensor(gaussian_taps(), dtype=pred.dtype, device=pred.device)
    # one grouped pass over the five maps (faster than five separate convolutions)
    maps = torch.cat([pred, target, pred * pred, target * target, pred * target], dim=1)
    mu_p, mu_t, e_pp, e_tt, e_pt = _separable_valid(maps, taps, spatial_dims).chunk(5, dim=1)
    var_p = e_pp - mu_p * mu_p
    var_t = e_tt - mu_t * mu_t
    cov = e_pt - mu_p * mu_t
    c1 = (SSIM_K1 * rng) ** 2
    c2 = (SSIM_K2 * rng) ** 2
    num = (2.0 * mu_p * mu_t + c1) * (2.0 * cov + c2)
    den = (mu_p * mu_p + mu_t * mu_t + c1) * (var_p + var_t + c2)
    per_item = (num / den).flatten(2).mean(dim=2)
    return per_item.mean() if reduction == "mean" else per_item
