"""Convolutional Block Attention Module (CBAM), 2D and 3D.

Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018. A channel gate
(average- and max-pooled descriptors through one shared two-layer MLP with reduction ``r``, summed,
sigmoid) is followed by a spatial gate (channel-wise average and max maps, concatenated, one
``7x7`` (``7x7x7``) convolution, sigmoid). As in the authors' public implementation, the spatial
gate's convolution has no bias and is followed by a one-channel batch norm, and the MLP layers
have biases; with these choices the AttnDFGAN generator has exactly the published parameter count.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medsr.nn.factory import conv, norm


class ChannelGate(nn.Module):
    """CBAM channel attention: ``x * sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))``.

    Args:
        channels: Input channels.
        reduction: MLP reduction ratio ``r``; the hidden width is ``max(channels // r, 1)``.

    Shape:
        - Input: ``(B, C, *n)``
        - Output: ``(B, C, *n)``
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)
        logits = self.mlp(flat.mean(dim=2)) + self.mlp(flat.amax(dim=2))
        gate = torch.sigmoid(logits)
        return x * gate.reshape(*gate.shape, *([1] * (x.ndim - 2)))


class SpatialGate(nn.Module):
    """CBAM spatial attention: ``x * sigmoid(BN(conv([mean_c(x), max_c(x)])))``.

    Args:
        spatial_dims: 2 or 3.
        kernel_size: Kernel of the convolution over the two pooled maps.

    Shape:
        - Input: ``(B, C, *n)``
        - Output: ``(B, C, *n)``
    """

    def __init__(self, spatial_dims: int, *, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = conv(spatial_dims, 2, 1, kernel_size, bias=False)
        self.bn = norm("batch", spatial_dims, 1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    """Channel gate followed by spatial gate.

    Args:
        spatial_dims: 2 or 3.
        channels: Input channels.
        reduction: Channel-gate MLP reduction ratio.
        kernel_size: Spatial-gate kernel.

    Shape:
        - Input: ``(B, channels, *n)``
        - Output: ``(B, channels, *n)``
    """

    def __init__(
        self, spatial_dims: int, channels: int, *, reduction: int = 16, kernel_size: int = 7
    ) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction=reduction)
        self.spatial = SpatialGate(spatial_dims, kernel_size=kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.spatial(self.channel(x))
