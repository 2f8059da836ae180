"""SSIM loss ``1 - SSIM`` (11-tap Gaussian window, sigma 1.5), 2D and 3D."""

from __future__ import annotations

from torch import Tensor, nn

from medsr.losses._checks import same_shape, spatial_dims_of
from medsr.metrics.torch_ssim import ssim_torch


class SSIMLoss(nn.Module):
    """``1 - mean SSIM`` with the window of Wang et al., "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 13(4), 2004.

    Uses :func:`medsr.metrics.torch_ssim.ssim_torch` (valid-region Gaussian filtering,
    ``K1 = 0.01``, ``K2 = 0.03``), so the loss agrees with the evaluation metric.

    Args:
        data_range: Intensity range ``R`` of the images (required: ``C1 = (0.01 R)**2``).

    Raises:
        ValueError: If ``data_range`` is not positive or the inputs are too small (< 11 voxels).

    Shape:
        pred, target: ``(B, C, H, W)`` or ``(B, C, D, H, W)``; output: scalar.
    """

    def __init__(self, *, data_range: float) -> None:
        super().__init__()
        if not data_range > 0:
            raise ValueError(
                f"data_range must be > 0 (e.g. 1.0 for [0, 1] images), got {data_range!r}"
            )
        self.data_range = float(data_range)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("SSIMLoss", pred, target)
        dims = spatial_dims_of("SSIMLoss", pred)
        ssim = ssim_torch(pred, target, data_range=self.data_range, spatial_dims=dims)  # type: ignore[arg-type]
        return 1.0 - ssim
