"""mDCSRN: the multi-level densely connected super-resolution network.

Chen, Shi, Christodoulou, Xie, Zhou and Li, "Efficient and Accurate MRI Super-Resolution Using a
Generative Adversarial Network and 3D Multi-level Densely Connected Network", MICCAI 2018.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from medsr.conventions import normalize_scale
from medsr.models.generators._checks import check_positive, check_spatial_dims
from medsr.models.generators.mdcsrn_buffered import BufferedMDCSRN
from medsr.nn.dense import DenseBlock
from medsr.nn.factory import conv
from medsr.nn.pixel_shuffle import PixelShuffle
from medsr.nn.validation import check_input


class MDCSRN(nn.Module):
    """Multi-level densely connected SR network (mDCSRN), 3D by default.

    Layout (no biases anywhere; every convolution is followed by a batch norm or is linear):

    * a 3x3x3 convolution to ``2k`` channels (``k`` = ``growth``);
    * ``num_blocks`` dense blocks of ``num_units`` units ``BN -> ELU -> 3x3x3 conv`` (``k``
      channels each); a block outputs its input concatenated with its units (``2k + units * k``);
    * after every block but the last, a 1x1x1 compressor maps the running concatenation
      ``[stem, block_1, ..., block_i]`` (multi-level links) back to ``2k`` channels, which is the
      next block's input;
    * a final 1x1x1 reconstruction of ``[stem, block_1, ..., block_n]``.

    With the paper's settings (4 blocks x 4 units, ``k = 16``, one channel) the network has
    exactly 411,648 parameters, the count the paper reports. ``residual=True`` (ours, not in the
    paper; same parameter count) adds the input to the output and zero-initialises the
    reconstruction, so an untrained network is the identity (the zero-filled baseline) and
    training learns only the correction; it needs ``scale=1`` and equal channel counts. With ``scale > 1`` the
    reconstruction emits ``out_channels * prod(scale)`` channels that a pixel shuffle moves onto
    the fine grid, so true low-resolution input can be used (the paper feeds same-grid,
    k-space-truncated input and uses ``scale=1``).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        spatial_dims: 3 (paper) or 2.
        num_blocks: Dense blocks.
        num_units: Units per dense block.
        growth: Growth rate ``k``.
        scale: Upscaling factor (int or per axis); 1 for same-grid input.
        residual: Global residual connection ``y = x + f(x)`` (see above).

    Raises:
        ValueError: On a non-positive size, bad ``spatial_dims`` or bad scale, or ``residual``
            with ``scale > 1`` or ``in_channels != out_channels``.

    Shape:
        - Input: ``(B, in_channels, *n)``, any spatial size
        - Output: ``(B, out_channels, *(n * scale))``
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 3,
        num_blocks: int = 4,
        num_units: int = 4,
        growth: int = 16,
        scale: int | Sequence[int] = 1,
        residual: bool = False,
    ) -> None:
        super().__init__()
        check_positive(
            in_channels=in_channels,
            out_channels=out_channels,
            num_blocks=num_blocks,
            num_units=num_units,
            growth=growth,
        )
        check_spatial_dims(spatial_dims)
        self.scale = normalize_scale(scale, spatial_dims)
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        width = 2 * growth
        self.stem = conv(spatial_dims, in_channels, width, 3, bias=False)
        self.blocks = nn.ModuleList()
        self.compressors = nn.ModuleList()
        running = width
        for index in range(num_blocks):
            block = DenseBlock(
                spatial_dims, width, growth=growth, num_units=num_units, act="elu", bias=False
            )
            self.blocks.append(block)
            running += block.out_channels
            if index < num_blocks - 1:
                self.compressors.append(conv(spatial_dims, running, width, 1, bias=False))
        factor = math.prod(self.scale)
        self.reconstruction = conv(spatial_dims, running, out_channels * factor, 1, bias=False)
        self.shuffle: nn.Module = PixelShuffle(self.scale) if factor > 1 else nn.Identity()
        self.residual = residual
        if residual:
            if factor != 1 or in_channels != out_channels:
                raise ValueError(
                    "MDCSRN(residual=True) adds the input to the output, so it needs scale=1 "
                    f"and in_channels == out_channels (got scale={self.scale}, "
                    f"{in_channels} -> {out_channels} channels)"
                )
            nn.init.zeros_(self.reconstruction.weight)  # type: ignore[arg-type]

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model="MDCSRN", spatial_dims=self.spatial_dims, in_channels=self.in_channels)
        levels = [self.stem(x)]
        h = levels[0]
        for index, block in enumerate(self.blocks):
            levels.append(block(h))
            if index < len(self.compressors):
                h = self.compressors[index](torch.cat(levels, dim=1))
        out = self.shuffle(self.reconstruction(torch.cat(levels, dim=1)))
        return out + x if self.residual else out

    def inference_form(self, *, buffered: bool = True, **options: Any) -> nn.Module | None:
        """The network for inference: a
        :class:`~medsr.models.generators.mdcsrn_buffered.BufferedMDCSRN` sharing these modules,
        which evaluates it without concatenations (None with ``buffered=False``).

        The hook of :mod:`medsr.nn.inference`, called by
        :func:`medsr.infer.optimize.prepare_for_inference`; other options are ignored.
        """
        if not buffered:
            return None

        return BufferedMDCSRN(self)
