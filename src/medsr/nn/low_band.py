"""Low-band consistency for denoisers: the output keeps the input's local mean.

Low-dose CT noise is (close to) zero-mean in HU, so a Gaussian low-pass of the noisy input is an
almost noise-free, unbiased estimate of the image's low band, while a denoiser trained on a few
thousand patches may shift whole regions (air, fat, bone) by tens of HU. The module replaces the
low band of the network's output ``y`` with the input's:

    y' = y + G_sigma * (x - y)

so the denoiser can only change what lies above the cut-off (``G_sigma``: a normalised Gaussian,
reflect-padded, in voxels). It is differentiable, has no parameters and no persistent state (old
checkpoints load unchanged), and is the denoising counterpart of the k-space data-consistency
step of the MRI models. Not part of DFGAN; marked in every recipe or card that turns it on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gaussian_taps_1d(sigma: float, *, truncate: float = 3.0) -> Tensor:
    """Normalised 1D Gaussian taps of radius ``ceil(truncate * sigma)`` (float32)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = max(1, math.ceil(truncate * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (t / sigma) ** 2)
    return (taps / taps.sum()).to(torch.float32)


class LowBandConsistency(nn.Module):
    """``y + G_sigma * (x - y)`` per channel, 2D or 3D (see the module docstring).

    Args:
        sigma: Gaussian standard deviation in voxels (the same along every spatial axis).
        spatial_dims: 2 or 3.

    Shape:
        - ``y``, ``x``: ``(B, C, *n)``, the same shape.
    """

    taps: Tensor

    def __init__(self, sigma: float, spatial_dims: int) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        self.sigma = float(sigma)
        self.spatial_dims = spatial_dims
        self.register_buffer("taps", gaussian_taps_1d(self.sigma), persistent=False)

    def low_pass(self, z: Tensor) -> Tensor:
        """Separable Gaussian blur of ``z`` with reflect padding (``replicate`` when too small)."""
        b, c = z.shape[:2]
        radius = (self.taps.numel() - 1) // 2
        flat = z.reshape(b * c, 1, *z.shape[2:])
        taps = self.taps.to(dtype=z.dtype)
        for axis in range(self.spatial_dims):
            size = flat.shape[2 + axis]
            mode = "reflect" if size > radius else "replicate"
            pad = [0] * (2 * self.spatial_dims)  # F.pad lists the last axis first
            first = 2 * (self.spatial_dims - 1 - axis)
            pad[first] = pad[first + 1] = radius
            shape = [1, 1] + [1] * self.spatial_dims
            shape[2 + axis] = taps.numel()
            kernel = taps.reshape(shape)
            padded = F.pad(flat, pad, mode=mode)
            flat = (F.conv2d if self.spatial_dims == 2 else F.conv3d)(padded, kernel)
        return flat.reshape(z.shape)

    def forward(self, y: Tensor, x: Tensor) -> Tensor:
        if y.shape != x.shape:
            raise ValueError(f"output shape {tuple(y.shape)} differs from input {tuple(x.shape)}")
        return y + self.low_pass(x - y)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, spatial_dims={self.spatial_dims}"
