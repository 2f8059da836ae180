"""HR -> LR generator (G_LR) that closes the SRResCycGAN cycle.

Umer and Micheloni, "Deep Cyclic Generative Adversarial Residual Convolutional Networks for Real
Image Super-Resolution", ECCV Workshops 2020. The residual body follows the degradation generator
of Fritsche, Gu and Timofte, "Frequency Separation for Real-World Super-Resolution", ICCV
Workshops 2019 (DSGAN), which the SRResCGAN code base uses to produce its LR training data.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from medsr.conventions import normalize_scale
from medsr.models.generators._checks import (
    check_choice,
    check_positive,
    check_spatial_dims,
)
from medsr.nn.activations import activation
from medsr.nn.factory import conv
from medsr.nn.residual import ResidualBlock
from medsr.nn.validation import check_input


class SRResCycLRGenerator(nn.Module):
    """``conv3 - PReLU``, residual blocks ``conv3 - PReLU - conv3`` (+ identity), strided conv.

    The last convolution downsamples by ``s`` per axis with kernel ``s + 2 * (s // 2)``, stride
    ``s`` and padding ``s // 2``: every output voxel sees its own ``s``-cell plus a margin of
    ``s // 2`` on each side (an anti-aliasing window the network learns).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        spatial_dims: 2 or 3.
        scale: Downscaling factor, positive int or one per axis.
        features: Feature channels.
        num_blocks: Residual blocks.
        output_activation: ``"none"`` or ``"sigmoid"`` (DSGAN's output for [0, 1] images).
        input_skip: ``"none"`` (the published network) or ``"area"`` (ours): the output adds the
            ``s``-cell average of the input and the last convolution starts at zero, so the
            untrained network is an area downsampler and learns only the residual degradation
            (noise, blur beyond the cell). In unpaired training this gives the HR cycle a
            sensible low-resolution image from the first step rather than a code the two
            generators could invent together; the same aid as the SR models' ``input_skip``.

    Raises:
        ValueError: On a bad size, scale or activation.

    Shape:
        - Input: ``(B, in_channels, *m)`` with every ``m_i`` divisible by ``scale_i``
        - Output: ``(B, out_channels, *(m / scale))``
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        scale: int | Sequence[int] = 4,
        features: int = 64,
        num_blocks: int = 8,
        output_activation: str = "none",
        input_skip: str = "none",
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            features=features,
            num_blocks=num_blocks,
        )
        check_spatial_dims(spatial_dims)
        check_choice("output_activation", output_activation, ("none", "sigmoid"))
        check_choice("input_skip", input_skip, ("none", "area"))
        if input_skip == "area" and output_activation != "none":
            raise ValueError("input_skip='area' needs output_activation='none'")
        self.scale = normalize_scale(scale, spatial_dims)
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.head = nn.Sequential(conv(spatial_dims, in_channels, features, 3), nn.PReLU())
        self.body = nn.Sequential(
            *(
                ResidualBlock(spatial_dims, features, norm_kind="none", act="prelu")
                for _ in range(num_blocks)
            )
        )
        kernel = tuple(s + 2 * (s // 2) for s in self.scale)
        pad = tuple(s // 2 for s in self.scale)
        conv_cls: type[nn.Module] = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.down = conv_cls(features, out_channels, kernel, stride=self.scale, padding=pad)
        self.out_act = activation(output_activation)
        self.skip: nn.Module | None = None
        if input_skip == "area":
            for p in self.down.parameters():
                nn.init.zeros_(p)
            pool: type[nn.Module] = nn.AvgPool2d if spatial_dims == 2 else nn.AvgPool3d
            self.skip = pool(self.scale, stride=self.scale)

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x,
            model="SRResCycLRGenerator",
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            multiple_of=self.scale,
        )
        y = self.out_act(self.down(self.body(self.head(x))))
        return y if self.skip is None else y + self.skip(x)
