"""SRResCGAN / SRResCycGAN super-resolution generator (G_SR).

Umer, Foresti and Micheloni, "Deep Generative Adversarial Residual Convolutional Networks for
Real-World Super-Resolution", CVPR Workshops 2020 (SRResCGAN); the same generator is the SR branch
of Umer and Micheloni, "Deep Cyclic Generative Adversarial Residual Convolutional Networks for Real
Image Super-Resolution", ECCV Workshops 2020 (SRResCycGAN). The denoiser is ResDNet (Kokkinos and
Lefkimmiatis, ECCV 2018; Lefkimmiatis, CVPR 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from medsr.conventions import normalize_scale
from medsr.models.generators._checks import check_positive, check_spatial_dims
from medsr.nn.l2proj import L2BallProjection
from medsr.nn.noise_estimate import wavelet_mad_sigma
from medsr.nn.validation import check_input
from medsr.nn.wn_conv import ZeroMeanWNConv


class _ResDNetBlock(nn.Module):
    """Pre-activation residual block: PReLU - conv3 - PReLU - conv3 (+ identity when ``skip``)."""

    def __init__(self, spatial_dims: int, features: int, *, skip: bool) -> None:
        super().__init__()
        self.skip = skip
        self.body = nn.Sequential(
            nn.PReLU(features, init=0.1),
            ZeroMeanWNConv(spatial_dims, features, features, 3),
            nn.PReLU(features, init=0.1),
            ZeroMeanWNConv(spatial_dims, features, features, 3),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        return x + out if self.skip else out


class SRResCGAN(nn.Module):
    """Upsample, estimate the noise, predict and project the residual, subtract it.

    1. ``u`` = bilinear (trilinear in 3D) upsampling of the input by ``scale``.
    2. ``sigma`` = wavelet-MAD noise estimate of ``u`` (finest diagonal Haar band).
    3. ResDNet: encoder ``5x5`` weight-normalised zero-mean convolution (reflect padding) to
       ``features``, ``num_blocks`` pre-activation residual blocks (the first without its skip, as
       in the authors' code), decoder ``5x5`` weight-normalised zero-mean transposed convolution
       back to the image channels.
    4. The residual is projected onto the L2 ball of radius ``exp(alpha) * sigma * sqrt(N - 1)``
       (learnable ``alpha``) and subtracted from ``u``; optionally clipped to ``clip_range``.

    One channel: 373,954 parameters (RGB: 380,356, the paper's "380K").

    Args:
        in_channels: Image channels (the output has the same).
        out_channels: Must equal ``in_channels``.
        spatial_dims: 2 (paper) or 3.
        scale: Positive int or one per axis (the paper uses 4; 1 gives a pure denoiser).
        features: ResDNet feature channels.
        num_blocks: Residual blocks.
        clip_range: ``(low, high)`` to clamp the output to (the paper's box projection onto
            ``[0, 255]``), or ``None`` for no clipping.
        projection_init: ``exp(alpha)`` at initialisation, the projection radius in units of
            ``sigma * sqrt(N - 1)`` (2, the authors' ``log 2`` init). The residual the network
            may subtract is bounded by the noise it estimates in ``u``: a short run on lightly
            noisy input needs a larger start to learn detail at all (``srrescycgan-t1-x4``).

    Raises:
        ValueError: On a bad size, scale, channel pairing or clip range.

    Shape:
        - Input: ``(B, C, *n)``, upsampled size at least 3 per axis
        - Output: ``(B, C, *(n * scale))``
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        scale: int | Sequence[int] = 4,
        features: int = 64,
        num_blocks: int = 5,
        clip_range: tuple[float, float] | None = None,
        projection_init: float = 2.0,
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            features=features,
            num_blocks=num_blocks,
        )
        check_spatial_dims(spatial_dims)
        if out_channels != in_channels:
            raise ValueError(
                f"SRResCGAN subtracts a residual from the upsampled input, so out_channels must "
                f"equal in_channels ({in_channels}), got {out_channels}"
            )
        if clip_range is not None and not clip_range[0] < clip_range[1]:
            raise ValueError(f"clip_range must be (low, high) with low < high, got {clip_range!r}")
        if not projection_init > 0:
            raise ValueError(f"projection_init must be > 0, got {projection_init!r}")
        self.scale = normalize_scale(scale, spatial_dims)
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.clip_range = (
            None if clip_range is None else (float(clip_range[0]), float(clip_range[1]))
        )
        self.encoder = ZeroMeanWNConv(spatial_dims, in_channels, features, 5)
        self.blocks = nn.Sequential(
            *(_ResDNetBlock(spatial_dims, features, skip=i > 0) for i in range(num_blocks))
        )
        self.decoder = ZeroMeanWNConv(spatial_dims, features, in_channels, 5, transposed=True)
        self.projection = L2BallProjection(alpha_init=math.log(projection_init))
        self.min_size = tuple(math.ceil(3 / s) for s in self.scale)

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x,
            model="SRResCGAN",
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            min_size=self.min_size,
        )
        if any(s > 1 for s in self.scale):
            mode = "bilinear" if self.spatial_dims == 2 else "trilinear"
            x = F.interpolate(x, scale_factor=self.scale, mode=mode, align_corners=False)
        sigma = wavelet_mad_sigma(x)
        residual = self.decoder(self.blocks(self.encoder(x)))
        out = x - self.projection(residual, sigma)
        if self.clip_range is not None:
            out = out.clamp(*self.clip_range)
        return out
