"""Weight-normalised, zero-mean convolution (and its transpose), 2D and 3D.

The ResDNet denoiser inside SRResCGAN (Umer, Foresti and Micheloni, "Deep Generative Adversarial
Residual Convolutional Networks for Real-World Super-Resolution", CVPR Workshops 2020; after
Kokkinos and Lefkimmiatis, ECCV 2018) constrains its filters to have zero mean and reparametrises
them with weight normalisation (Salimans and Kingma, NeurIPS 2016):
``w_i = g_i * (v_i - mean(v_i)) / ||v_i - mean(v_i)||`` for every filter ``i`` along the first
weight axis (output channels of a convolution, input channels of a transposed convolution, so that
the decoder is normalised filter-by-filter like the encoder it mirrors).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ZeroMeanWNConv(nn.Module):
    """Stride-1 'same' convolution with zero-mean, weight-normalised filters.

    Args:
        spatial_dims: 2 or 3.
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Odd kernel size.
        transposed: Use a transposed convolution (zero boundary) instead of a convolution.
        padding_mode: ``"reflect"`` or ``"zeros"`` for the (non-transposed) convolution.
        bias: Whether to learn a bias.

    Raises:
        ValueError: On an even kernel, a bad ``spatial_dims`` or an unknown padding mode.

    Shape:
        - Input: ``(B, in_channels, *n)``
        - Output: ``(B, out_channels, *n)``
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        transposed: bool = False,
        padding_mode: str = "reflect",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' output, got {kernel_size}")
        if padding_mode not in ("reflect", "zeros"):
            raise ValueError(f"padding_mode must be 'reflect' or 'zeros', got {padding_mode!r}")
        self.spatial_dims = spatial_dims
        self.transposed = transposed
        self.padding_mode = padding_mode
        self.pad = kernel_size // 2
        first, second = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        shape = (first, second) + (kernel_size,) * spatial_dims
        self.weight_v = nn.Parameter(torch.empty(shape))
        self.weight_g = nn.Parameter(torch.empty((first,) + (1,) * (spatial_dims + 1)))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))
        with torch.no_grad():
            self.weight_g.copy_(
                self._centred(self.weight_v).flatten(1).norm(dim=1).view_as(self.weight_g)
            )

    @staticmethod
    def _centred(v: Tensor) -> Tensor:
        dims = tuple(range(1, v.ndim))
        return v - v.mean(dim=dims, keepdim=True)

    def weight(self) -> Tensor:
        """The effective filters ``g * centred(v) / ||centred(v)||``."""
        centred = self._centred(self.weight_v)
        scale = centred.flatten(1).norm(dim=1).clamp_min(1e-12)
        return centred * (self.weight_g / scale.view_as(self.weight_g))

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight()
        if self.transposed:
            fn_t = F.conv_transpose2d if self.spatial_dims == 2 else F.conv_transpose3d
            return fn_t(x, w, self.bias, padding=self.pad)
        fn = F.conv2d if self.spatial_dims == 2 else F.conv3d
        if self.padding_mode == "reflect" and self.pad:
            x = F.pad(x, (self.pad,) * (2 * self.spatial_dims), mode="reflect")
            return fn(x, w, self.bias)
        return fn(x, w, self.bias, padding=self.pad)
