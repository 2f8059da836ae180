"""Global input skip for SR generators: the output adds the input's interpolation.

With the generator's last convolution zero-initialised, the network starts as the interpolation
and learns only the residual detail (as VDSR and EDSR-style networks do). Not part of SRGAN or
ESRGAN; a CPU-budget aid, marked in every recipe that uses it.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

INPUT_SKIPS = ("none", "linear", "cubic")


def check_input_skip(
    input_skip: str,
    *,
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    output_activation: str = "none",
) -> None:
    """Refuse an input skip the network cannot add (raises ``ValueError``)."""
    if input_skip not in INPUT_SKIPS:
        raise ValueError(f"input_skip must be one of {INPUT_SKIPS}, got {input_skip!r}")
    if input_skip != "none" and (in_channels != out_channels or output_activation != "none"):
        raise ValueError(
            "input_skip adds the interpolated input to the output: it needs in_channels == "
            "out_channels and output_activation='none'"
        )
    if input_skip == "cubic" and spatial_dims != 2:
        raise ValueError("input_skip='cubic' is 2D only; use 'linear' in 3D")


def zero_last_conv(last: nn.Module) -> None:
    """Zero a convolution's weight and bias (the network then starts as the input skip)."""
    assert isinstance(last, nn.Conv2d | nn.Conv3d)
    nn.init.zeros_(last.weight)
    if last.bias is not None:
        nn.init.zeros_(last.bias)


def add_input_skip(out: Tensor, x: Tensor, input_skip: str, spatial_dims: int) -> Tensor:
    """``out`` plus the interpolation of ``x`` to ``out``'s size (``out`` when ``"none"``)."""
    if input_skip == "none":
        return out
    mode = {"linear": "bilinear" if spatial_dims == 2 else "trilinear", "cubic": "bicubic"}
    up = F.interpolate(x, size=out.shape[2:], mode=mode[input_skip], align_corners=False)
    return out + up
