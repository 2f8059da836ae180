"""SRResNet, the SRGAN generator (2D and 3D, x1/x2/x3/x4 and per-axis scales).

Ledig, Theis, Huszar, Caballero, Cunningham, Acosta, Aitken, Tejani, Totz, Wang and Shi,
"Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network", CVPR 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from medsr.conventions import normalize_scale
from medsr.models.generators._checks import (
    check_choice,
    check_positive,
    check_spatial_dims,
)
from medsr.nn.activations import activation as make_activation
from medsr.nn.coarse_grid import fold_output_shuffle
from medsr.nn.factory import NormKind, conv, norm
from medsr.nn.input_skip import add_input_skip, check_input_skip, zero_last_conv
from medsr.nn.residual import ResidualBlock
from medsr.nn.upsample import SubPixelConv, upsample_stages
from medsr.nn.validation import check_input

#: The x3 SRGAN of the brain-MRI / chest X-ray report, as written there: input conv + LeakyReLU;
#: seven residual blocks conv-BN-LeakyReLU-conv-BN-LeakyReLU-Add; conv-LeakyReLU with the skip
#: from the first layer; one conv-PixelShuffle(3)-LeakyReLU stage; a one-filter conv with tanh
#: (targets in [-1, 1]). Kernel sizes (9 outer, 3 inner), the 64 features and the 0.2 slope are
#: SRGAN's: the report does not restate them. 898,497 parameters (docs/models.md).
SRGAN_X3_PRESET: dict[str, Any] = {
    "scale": 3,
    "num_blocks": 7,
    "activation": "leakyrelu",
    "negative_slope": 0.2,
    "output_activation": "tanh",
    "block_out_activation": True,
    "body_end": "activation",
}


class SRResNet(nn.Module):
    """SRResNet / SRGAN generator.

    ``conv9 - act`` head, ``num_blocks`` residual blocks ``conv3 - BN - act - conv3 - BN`` with an
    identity skip, ``conv3 - BN`` and a global skip from the head, sub-pixel upsampling (x2 stages
    for x2 and x4: ``conv3 to 4F (8F in 3D) - shuffle(2) - act``; one ``conv3 to F * 9 (27) -
    shuffle(3) - act`` stage for x3), and a ``conv9`` to the output channels. The x3 SRGAN of the
    brain-MRI / chest X-ray report is :data:`SRGAN_X3_PRESET` (an activation closing every block
    and ``conv3 - act`` instead of ``conv3 - BN`` before the global skip).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        spatial_dims: 2 or 3 (3D uses 9x9x9 outer and 3x3x3 inner kernels).
        scale: 1, 2, 3 or 4, or one such value per axis (e.g. ``(1, 2, 2)``).
        features: Feature channels ``F``.
        num_blocks: Residual blocks.
        activation: ``"prelu"`` (SRGAN, one shared slope) or ``"leakyrelu"``.
        negative_slope: LeakyReLU slope.
        output_activation: ``"none"`` or ``"tanh"``.
        batch_norm: Batch norm in the residual blocks and after the body convolution.
        outer_kernel_size: Kernel of the first and last convolutions.
        block_out_activation: Add the activation after each block's second norm, before the
            identity is added (``conv - BN - act - conv - BN - act``, the x3 report's block).
        body_end: What follows the convolution after the blocks, before the global skip:
            ``"norm"`` (SRGAN's ``conv3 - BN``) or ``"activation"`` (``conv3 - act``, the x3
            report's; no norm there).
        input_skip: ``"none"`` (the paper), or ``"linear"`` / ``"cubic"``: add the input's
            interpolation to the output, with the last convolution zero-initialised, so the
            network starts as that interpolation and learns the residual detail (as VDSR and
            EDSR-style SR networks do; not part of SRGAN). Needs equal in/out channels.

    Raises:
        ValueError: On a bad size, scale, activation or dimensionality.

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
        num_blocks: int = 16,
        activation: str = "prelu",
        negative_slope: float = 0.2,
        output_activation: str = "none",
        batch_norm: bool = True,
        outer_kernel_size: int = 9,
        input_skip: str = "none",
        block_out_activation: bool = False,
        body_end: str = "norm",
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            features=features,
            num_blocks=num_blocks,
        )
        check_spatial_dims(spatial_dims)
        check_choice("activation", activation, ("prelu", "leakyrelu"))
        check_choice("output_activation", output_activation, ("none", "tanh"))
        check_choice("body_end", body_end, ("norm", "activation"))
        check_input_skip(
            input_skip,
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            output_activation=output_activation,
        )
        self.input_skip = input_skip
        if outer_kernel_size % 2 != 1:
            raise ValueError(f"outer_kernel_size must be odd, got {outer_kernel_size}")
        self.scale = normalize_scale(scale, spatial_dims)
        stages = upsample_stages(self.scale, spatial_dims)
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        norm_kind: NormKind = "batch" if batch_norm else "none"
        self.head = nn.Sequential(
            conv(spatial_dims, in_channels, features, outer_kernel_size),
            make_activation(activation, negative_slope=negative_slope),
        )
        self.body = nn.Sequential(
            *(
                ResidualBlock(
                    spatial_dims,
                    features,
                    norm_kind=norm_kind,
                    act=activation,
                    negative_slope=negative_slope,
                    act_out=block_out_activation,
                )
                for _ in range(num_blocks)
            ),
            conv(spatial_dims, features, features, 3),
            norm(norm_kind, spatial_dims, features)
            if body_end == "norm"
            else make_activation(activation, negative_slope=negative_slope),
        )
        self.upsample = nn.Sequential(
            *(
                SubPixelConv(
                    spatial_dims, features, stage, act=activation, negative_slope=negative_slope
                )
                for stage in stages
            )
        )
        self.tail = nn.Sequential(
            conv(spatial_dims, features, out_channels, outer_kernel_size),
            make_activation(output_activation),
        )
        if input_skip != "none":  # start as the interpolation; the network learns the correction
            zero_last_conv(self.tail[0])

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x, model="SRResNet", spatial_dims=self.spatial_dims, in_channels=self.in_channels
        )
        h = self.head(x)
        out = self.tail(self.upsample(h + self.body(h)))
        return add_input_skip(out, x, self.input_skip, self.spatial_dims)

    def inference_form(self, *, fold_shuffle: bool = True, **options: Any) -> nn.Module | None:
        """Rewrite the network for inference in place: the output convolution after the last
        pixel shuffle runs on the coarse grid before it
        (:func:`~medsr.nn.coarse_grid.fold_output_shuffle`; skipped with ``fold_shuffle=False``).

        The hook of :mod:`medsr.nn.inference`, called by
        :func:`medsr.infer.optimize.prepare_for_inference` on a copy; returns None (the module
        stays, rewritten); other options are ignored.
        """
        if fold_shuffle:
            fold_output_shuffle(self)
        return None
