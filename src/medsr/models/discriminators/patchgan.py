"""PatchGAN discriminator, 2D and 3D, with the DFGAN difference-channel variant.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017
(the 70x70 PatchGAN). The DFGAN variant (low-dose CT denoising) feeds two channels, the image and
its difference from the low-dose input, through 4x4 convs 128-256-512 (stride 2), 512 (stride 1)
and 1 (stride 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from medsr.nn import factory
from medsr.nn.validation import check_conv_stack, check_input

Norm = Literal["batch", "instance", "layer", "none"]


class PatchGANDiscriminator(nn.Module):
    """Strided 4x4 convs to a map of raw logits, one per overlapping input patch.

    Layout: for each ``(width, stride)``: conv ``kernel_size`` (padding 1), norm (not on the
    first conv), LeakyReLU; then a final conv to 1 channel with stride 1. With the defaults
    this is the pix2pix 70x70 PatchGAN.

    Args:
        spatial_dims: 2 or 3.
        in_channels: Image channels ``C``.
        channels: Width of every conv before the final one.
        strides: Stride of every conv before the final one (same length as ``channels``).
        kernel_size: Kernel size of every conv.
        norm: Normalisation after every conv but the first and the last.
        bias: Conv biases; ``None`` puts a bias exactly where no normalisation follows (the
            pix2pix rule). The last conv always has a bias.
        negative_slope: LeakyReLU slope.
        difference_input: DFGAN mode: ``forward(x, x_lq)`` feeds ``[x, x - x_lq]`` (``2C``
            channels) instead of ``x``.

    Raises:
        ValueError: On an invalid argument; the message says which value to use.

    Shape:
        Input ``(B, C, *S)`` (and ``x_lq`` of the same shape in DFGAN mode); output
        ``(B, 1, *S')`` raw logits, ``S'`` from the conv arithmetic (e.g. 64 -> 6 for the DFGAN
        and pix2pix layouts).
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 2,
        in_channels: int = 1,
        channels: Sequence[int] = (64, 128, 256, 512),
        strides: Sequence[int] = (2, 2, 2, 1),
        kernel_size: int = 4,
        norm: Norm = "batch",
        bias: bool | None = None,
        negative_slope: float = 0.2,
        difference_input: bool = False,
    ) -> None:
        super().__init__()
        check_conv_stack(spatial_dims, in_channels, channels)
        if len(strides) != len(channels) or any(int(s) < 1 for s in strides):
            raise ValueError(
                f"strides must give one positive stride per entry of channels ({len(channels)}), "
                f"got {strides!r}"
            )
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2, got {kernel_size!r}")
        if norm not in ("batch", "instance", "layer", "none"):
            raise ValueError(f"norm must be 'batch', 'instance', 'layer' or 'none', got {norm!r}")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.difference_input = difference_input
        self._convs: list[tuple[int, int]] = []  # (kernel, stride) for the size arithmetic

        layers: list[nn.Module] = []
        prev = 2 * in_channels if difference_input else in_channels
        for i, (width, stride) in enumerate(zip(channels, strides)):
            has_norm = i > 0 and norm != "none"
            use_bias = (not has_norm) if bias is None else bias
            layers.append(
                factory.conv(
                    spatial_dims,
                    prev,
                    int(width),
                    kernel_size,
                    stride=stride,
                    padding=1,
                    bias=use_bias,
                )
            )
            if has_norm:
                layers.append(factory.norm(norm, spatial_dims, int(width)))
            layers.append(nn.LeakyReLU(negative_slope))
            self._convs.append((kernel_size, int(stride)))
            prev = int(width)
        layers.append(factory.conv(spatial_dims, prev, 1, kernel_size, stride=1, padding=1))
        self._convs.append((kernel_size, 1))
        self.model = nn.Sequential(*layers)
        self.min_size = next(n for n in range(1, 100_000) if self.output_size(n) >= 1)

    def output_size(self, size: int) -> int:
        """Output length along an axis of input length ``size`` (may be < 1 if too small)."""
        for kernel, stride in self._convs:
            if size + 2 < kernel:
                return 0
            size = (size + 2 - kernel) // stride + 1
        return size

    def forward(self, x: Tensor, x_lq: Tensor | None = None) -> Tensor:
        name = type(self).__name__
        check_input(
            x,
            model=name,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            min_size=self.min_size,
        )
        if self.difference_input:
            if x_lq is None:
                raise ValueError(
                    f"{name} was built with difference_input=True (DFGAN); call it as "
                    "D(x, x_lq) with the low-dose input"
                )
            if x_lq.shape != x.shape:
                raise ValueError(
                    f"{name}: x_lq shape {tuple(x_lq.shape)} differs from x shape "
                    f"{tuple(x.shape)}; pass the matching low-dose patch"
                )
            x = torch.cat([x, x - x_lq], dim=1)
        elif x_lq is not None:
            raise ValueError(
                f"{name} got a second input but was built with difference_input=False; "
                "drop x_lq or rebuild with difference_input=True"
            )
        out: Tensor = self.model(x)
        return out


def dfgan_discriminator(*, spatial_dims: int = 2, in_channels: int = 1) -> PatchGANDiscriminator:
    """The DFGAN discriminator: [image, image - low-dose] -> 4x4 convs 128-256-512-512-1.

    Every conv has a bias and there is no normalisation, which gives exactly 6,829,441
    parameters for the 2D, one-channel configuration.

    Args:
        spatial_dims: 2 (as published) or 3.
        in_channels: Image channels.

    Returns:
        A :class:`PatchGANDiscriminator` in difference-input mode.
    """
    return PatchGANDiscriminator(
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        channels=(128, 256, 512, 512),
        strides=(2, 2, 2, 1),
        kernel_size=4,
        norm="none",
        difference_input=True,
    )
