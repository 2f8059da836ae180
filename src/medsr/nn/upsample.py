"""Upsampling stages: split a (per-axis) scale into x2 / x3 steps, and the sub-pixel conv stage.

SRGAN and ESRGAN upsample x4 as two x2 stages and x3 as a single stage. ``upsample_stages``
turns any per-axis scale with entries in {1, 2, 3, 4} into that list of stages, e.g.
``(1, 4, 4) -> [(1, 2, 2), (1, 2, 2)]`` and ``3 -> [(3, 3)]`` in 2D.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from medsr.nn.activations import activation
from medsr.nn.factory import conv
from medsr.nn.pixel_shuffle import PixelShuffle

_STEPS = {1: (), 2: (2,), 3: (3,), 4: (2, 2)}


def upsample_stages(scale: int | Sequence[int], spatial_dims: int) -> list[tuple[int, ...]]:
    """Split a scale into x2 / x3 stages, one factor per spatial axis per stage.

    Args:
        scale: One int or one int per spatial axis, each in {1, 2, 3, 4}.
        spatial_dims: Number of spatial axes.

    Returns:
        The stages (empty for scale 1); each stage is a tuple of per-axis factors.

    Raises:
        ValueError: If an entry is not 1, 2, 3 or 4, or the tuple has the wrong length.
    """
    factors = (scale,) * spatial_dims if isinstance(scale, int) else tuple(scale)
    if len(factors) != spatial_dims or any(f not in _STEPS for f in factors):
        raise ValueError(
            f"scale must be 1, 2, 3 or 4 (or a tuple of {spatial_dims} such values), got {scale!r}"
        )
    steps = [_STEPS[f] for f in factors]
    n_stages = max(len(s) for s in steps)
    return [tuple(s[i] if i < len(s) else 1 for s in steps) for i in range(n_stages)]


class SubPixelConv(nn.Module):
    """Convolution to ``features * prod(s)`` channels, pixel shuffle by ``s``, activation.

    The SRGAN upsampling stage (Ledig et al., CVPR 2017), after Shi et al., CVPR 2016.

    Args:
        spatial_dims: 2 or 3.
        features: Channels before and after the stage.
        factor: Per-axis upscaling factor of this stage.
        kernel_size: Kernel of the convolution.
        act: Activation after the shuffle (see :func:`medsr.nn.activations.activation`).
        negative_slope: LeakyReLU slope when ``act == "leakyrelu"``.

    Shape:
        - Input: ``(B, features, *n)``
        - Output: ``(B, features, *(n * factor))``
    """

    def __init__(
        self,
        spatial_dims: int,
        features: int,
        factor: Sequence[int],
        *,
        kernel_size: int = 3,
        act: str = "prelu",
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        factor = tuple(factor)
        block = 1
        for f in factor:
            block *= f
        self.conv = conv(spatial_dims, features, features * block, kernel_size)
        self.shuffle = PixelShuffle(factor)
        self.act = activation(act, negative_slope=negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))
