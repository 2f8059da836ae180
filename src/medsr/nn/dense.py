"""Densely connected block with pre-activation units (Huang et al., CVPR 2017).

Each unit is ``norm -> activation -> conv`` producing ``growth`` channels from the concatenation of
the block input and all previous unit outputs; the block returns that whole concatenation. This
is the unit of DCSRN / mDCSRN (Chen et al., MICCAI 2018: BN -> ELU -> 3x3x3 conv, no bias).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medsr.nn.activations import activation
from medsr.nn.factory import NormKind, conv, norm


class DenseBlock(nn.Module):
    """A dense block whose output is ``cat([x, u_1, ..., u_n])``.

    Args:
        spatial_dims: 2 or 3.
        in_channels: Channels of the block input.
        growth: Channels produced by each unit (``k``).
        num_units: Number of units.
        kernel_size: Kernel of each unit's convolution.
        norm_kind: Normalisation at the start of each unit.
        act: Activation after the normalisation.
        bias: Whether the unit convolutions have a bias.

    Attributes:
        out_channels: ``in_channels + num_units * growth``.

    Shape:
        - Input: ``(B, in_channels, *n)``
        - Output: ``(B, in_channels + num_units * growth, *n)``
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        *,
        growth: int,
        num_units: int,
        kernel_size: int = 3,
        norm_kind: NormKind = "batch",
        act: str = "elu",
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.units = nn.ModuleList()
        channels = in_channels
        for _ in range(num_units):
            self.units.append(
                nn.Sequential(
                    norm(norm_kind, spatial_dims, channels),
                    activation(act),
                    conv(spatial_dims, channels, growth, kernel_size, bias=bias),
                )
            )
            channels += growth
        self.out_channels = channels

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for unit in self.units:
            features.append(unit(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)
