"""Residual dense block and residual-in-residual dense block (RRDB).

Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCV Workshops
2018. A residual dense block has five convolutions; conv ``i`` (1..4) sees the block input
concatenated with the outputs of convs ``1..i-1`` and produces ``growth`` channels followed by a
LeakyReLU; conv 5 maps the full concatenation back to ``features`` channels. The block output is
``x + res_scale * conv5``. An RRDB chains three such blocks and adds its own scaled skip.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medsr.nn.factory import conv


class ResidualDenseBlock(nn.Module):
    """Five-convolution residual dense block with residual scaling.

    Args:
        spatial_dims: 2 or 3.
        features: Channels of the input and output.
        growth: Channels of each of the four inner convolutions.
        res_scale: Scale of the residual before it is added to the input.
        negative_slope: LeakyReLU slope after the inner convolutions.

    Shape:
        - Input: ``(B, features, *n)``
        - Output: ``(B, features, *n)``
    """

    def __init__(
        self,
        spatial_dims: int,
        features: int,
        *,
        growth: int,
        res_scale: float = 0.2,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.convs = nn.ModuleList(
            conv(spatial_dims, features + i * growth, growth) for i in range(4)
        )
        self.fuse = conv(spatial_dims, features + 4 * growth, features)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.convs:
            features.append(self.act(layer(torch.cat(features, dim=1))))
        return x + self.res_scale * self.fuse(torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three residual dense blocks and a scaled skip.

    Args:
        spatial_dims: 2 or 3.
        features: Channels of the input and output.
        growth: Growth channels of the inner dense blocks.
        res_scale: Residual scale of the inner blocks and of the outer skip.
        negative_slope: LeakyReLU slope inside the dense blocks.
        num_dense: Number of residual dense blocks.

    Shape:
        - Input: ``(B, features, *n)``
        - Output: ``(B, features, *n)``
    """

    def __init__(
        self,
        spatial_dims: int,
        features: int,
        *,
        growth: int,
        res_scale: float = 0.2,
        negative_slope: float = 0.2,
        num_dense: int = 3,
    ) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.blocks = nn.Sequential(
            *(
                ResidualDenseBlock(
                    spatial_dims,
                    features,
                    growth=growth,
                    res_scale=res_scale,
                    negative_slope=negative_slope,
                )
                for _ in range(num_dense)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.res_scale * self.blocks(x)
