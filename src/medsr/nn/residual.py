"""Residual block ``x + BN(conv(act(BN(conv(x)))))`` (He et al., CVPR 2016; SRGAN variant)."""

from __future__ import annotations

from torch import Tensor, nn

from medsr.nn.activations import activation
from medsr.nn.factory import NormKind, conv, norm


class ResidualBlock(nn.Module):
    """conv - norm - activation - conv - norm [- activation], plus the identity.

    The SRResNet block of Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
    Generative Adversarial Network", CVPR 2017 (``norm="batch"``, ``act="prelu"``); with
    ``norm="none"`` it is the EDSR-style block used by the HR->LR cycle generator.

    Args:
        spatial_dims: 2 or 3.
        channels: Feature channels (kept).
        kernel_size: Convolution kernel.
        norm_kind: Normalisation after each convolution.
        act: Activation between the convolutions.
        negative_slope: LeakyReLU slope when ``act == "leakyrelu"``.
        act_out: Apply the activation once more after the second norm, before the addition
            (the block of the x3 SRGAN of the brain-MRI / chest X-ray report).

    Shape:
        - Input: ``(B, channels, *n)``
        - Output: ``(B, channels, *n)``
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        *,
        kernel_size: int = 3,
        norm_kind: NormKind = "batch",
        act: str = "prelu",
        negative_slope: float = 0.2,
        act_out: bool = False,
    ) -> None:
        super().__init__()
        layers = [
            conv(spatial_dims, channels, channels, kernel_size),
            norm(norm_kind, spatial_dims, channels),
            activation(act, negative_slope=negative_slope),
            conv(spatial_dims, channels, channels, kernel_size),
            norm(norm_kind, spatial_dims, channels),
        ]
        if act_out:
            layers.append(activation(act, negative_slope=negative_slope))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
