"""RRDBNet, the ESRGAN generator, 2D and 3D (the 3D form is DISGAN's generator).

Wang, Yu, Wu, Gu, Liu, Dong, Qiao and Loy, "ESRGAN: Enhanced Super-Resolution Generative
Adversarial Networks", ECCV Workshops 2018. The 3D variant follows Wang, Mahler, Steiglechner,
Birk, Scheffler and Lohmann, "DISGAN: Wavelet-informed Discriminator Guides GAN to MRI
Super-resolution with Noise Cleaning", ICCV Workshops 2023.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from medsr.conventions import normalize_scale
from medsr.models.generators._checks import (
    check_choice,
    check_positive,
    check_spatial_dims,
)
from medsr.nn.coarse_grid import fold_output_shuffle
from medsr.nn.factory import conv
from medsr.nn.input_skip import add_input_skip, check_input_skip, zero_last_conv
from medsr.nn.rrdb import RRDB
from medsr.nn.upsample import SubPixelConv, upsample_stages
from medsr.nn.validation import check_input

#: ESRGAN as published (these are also the constructor defaults).
ESRGAN_2D_PRESET: dict[str, Any] = {
    "spatial_dims": 2,
    "scale": 4,
    "features": 64,
    "growth": 32,
    "num_blocks": 23,
    "res_scale": 0.2,
    "negative_slope": 0.2,
    "upsample": "nearest",
}

#: DISGAN's 3D generator: 3 RRDBs, growth 64, one x2 3D pixel-shuffle stage. The authors' code
#: uses ``nn.LeakyReLU()`` (slope 0.01) throughout; kept here.
DISGAN_3D_PRESET: dict[str, Any] = {
    "spatial_dims": 3,
    "scale": 2,
    "features": 64,
    "growth": 64,
    "num_blocks": 3,
    "res_scale": 0.2,
    "negative_slope": 0.01,
    "upsample": "pixelshuffle",
}


class _NearestConv(nn.Module):
    """Nearest-neighbour upsampling by ``factor``, 3x3 convolution, LeakyReLU (ESRGAN stage)."""

    def __init__(
        self, spatial_dims: int, features: int, factor: tuple[int, ...], negative_slope: float
    ) -> None:
        super().__init__()
        self.factor = factor
        self.conv = conv(spatial_dims, features, features, 3)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(F.interpolate(x, scale_factor=self.factor, mode="nearest")))


class RRDBNet(nn.Module):
    """Residual-in-residual dense block network.

    ``conv3`` to ``F`` features, ``num_blocks`` RRDBs, ``conv3`` and a global skip, upsampling
    stages (``"nearest"``: nearest x2 + ``conv3`` + LeakyReLU per stage as in ESRGAN;
    ``"pixelshuffle"``: ``conv3`` to ``F * 2**d`` + pixel shuffle + LeakyReLU as in DISGAN),
    then ``conv3 - LeakyReLU - conv3`` to the output. Presets: :data:`ESRGAN_2D_PRESET` (the
    defaults) and :data:`DISGAN_3D_PRESET`.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        spatial_dims: 2 or 3.
        scale: 1, 2, 3 or 4, or one such value per axis.
        features: Trunk channels ``F``.
        growth: Growth channels inside the dense blocks.
        num_blocks: Number of RRDBs.
        res_scale: Residual scaling inside and around the dense blocks.
        negative_slope: LeakyReLU slope everywhere.
        upsample: ``"nearest"`` or ``"pixelshuffle"``.
        input_skip: ``"none"`` (the papers) or ``"linear"`` / ``"cubic"``: add the input's
            interpolation to the output, the last convolution zero-initialised
            (:mod:`medsr.nn.input_skip`; a CPU-budget aid, not in ESRGAN or DISGAN).

    Raises:
        ValueError: On a bad size, scale, mode or dimensionality.

    Shape:
        - Input: ``(B, in_channels, *n)``, any spatial size
        - Output: ``(B, out_channels, *(n * scale))``
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        scale: int | Sequence[int] = 4,
        features: int = 64,
        growth: int = 32,
        num_blocks: int = 23,
        res_scale: float = 0.2,
        negative_slope: float = 0.2,
        upsample: str = "nearest",
        input_skip: str = "none",
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            features=features,
            growth=growth,
            num_blocks=num_blocks,
        )
        check_spatial_dims(spatial_dims)
        check_choice("upsample", upsample, ("nearest", "pixelshuffle"))
        check_input_skip(
            input_skip,
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
        )
        self.input_skip = input_skip
        if not 0.0 < res_scale <= 1.0:
            raise ValueError(f"res_scale must be in (0, 1], got {res_scale!r}")
        self.scale = normalize_scale(scale, spatial_dims)
        stages = upsample_stages(self.scale, spatial_dims)
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.conv_first = conv(spatial_dims, in_channels, features, 3)
        self.body = nn.Sequential(
            *(
                RRDB(
                    spatial_dims,
                    features,
                    growth=growth,
                    res_scale=res_scale,
                    negative_slope=negative_slope,
                )
                for _ in range(num_blocks)
            )
        )
        self.conv_body = conv(spatial_dims, features, features, 3)
        stage_modules: list[nn.Module] = []
        for stage in stages:
            if upsample == "nearest":
                stage_modules.append(_NearestConv(spatial_dims, features, stage, negative_slope))
            else:
                stage_modules.append(
                    SubPixelConv(
                        spatial_dims,
                        features,
                        stage,
                        act="leakyrelu",
                        negative_slope=negative_slope,
                    )
                )
        self.upsample = nn.Sequential(*stage_modules)
        self.tail = nn.Sequential(
            conv(spatial_dims, features, features, 3),
            nn.LeakyReLU(negative_slope),
            conv(spatial_dims, features, out_channels, 3),
        )
        if input_skip != "none":  # start as the interpolation; the network learns the correction
            zero_last_conv(self.tail[2])

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x, model="RRDBNet", spatial_dims=self.spatial_dims, in_channels=self.in_channels
        )
        h = self.conv_first(x)
        h = h + self.conv_body(self.body(h))
        return add_input_skip(self.tail(self.upsample(h)), x, self.input_skip, self.spatial_dims)

    def inference_form(self, *, fold_shuffle: bool = True, **options: Any) -> nn.Module | None:
        """Rewrite the network for inference in place: with ``upsample="pixelshuffle"`` and an
        output stage of at most 4 channels, its first convolution runs on the coarse grid
        (:func:`~medsr.nn.coarse_grid.fold_output_shuffle`; skipped with ``fold_shuffle=False``).

        The hook of :mod:`medsr.nn.inference`, called by
        :func:`medsr.infer.optimize.prepare_for_inference` on a copy; returns None (the module
        stays, rewritten); other options are ignored.
        """
        if fold_shuffle:
            fold_output_shuffle(self)
        return None
