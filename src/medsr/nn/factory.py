"""Dimension-generic layer factories: pick the 2D or 3D torch layer by ``spatial_dims``."""

from __future__ import annotations

from typing import Literal

from torch import nn

NormKind = Literal["batch", "instance", "layer", "group", "none"]
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]


def _check_dims(spatial_dims: int) -> None:
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")


def conv(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    *,
    stride: int = 1,
    padding: int | None = None,
    bias: bool = True,
    padding_mode: PaddingMode = "zeros",
) -> nn.Module:
    """``Conv2d`` / ``Conv3d`` with 'same' padding for odd kernels by default."""
    _check_dims(spatial_dims)
    pad = kernel_size // 2 if padding is None else padding
    cls = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    return cls(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=pad,
        bias=bias,
        padding_mode=padding_mode,
    )


def conv_transpose(
    spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 2, *, stride: int = 2
) -> nn.Module:
    """``ConvTranspose2d`` / ``ConvTranspose3d``."""
    _check_dims(spatial_dims)
    cls = nn.ConvTranspose2d if spatial_dims == 2 else nn.ConvTranspose3d
    return cls(in_channels, out_channels, kernel_size, stride=stride)


def max_pool(spatial_dims: int, kernel_size: int = 2) -> nn.Module:
    _check_dims(spatial_dims)
    return nn.MaxPool2d(kernel_size) if spatial_dims == 2 else nn.MaxPool3d(kernel_size)


def adaptive_avg_pool(spatial_dims: int, output_size: int = 1) -> nn.Module:
    _check_dims(spatial_dims)
    return (
        nn.AdaptiveAvgPool2d(output_size)
        if spatial_dims == 2
        else nn.AdaptiveAvgPool3d(output_size)
    )


def norm(kind: NormKind, spatial_dims: int, channels: int) -> nn.Module:
    """Normalisation layer by name.

    ``layer`` normalises each sample over (C, spatial) with per-channel affine, as WGAN-GP critics need
    (no batch statistics, so the gradient penalty stays per-sample). It is ``GroupNorm(1, C)``.
    """
    _check_dims(spatial_dims)
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial_dims == 2 else nn.BatchNorm3d(channels)
    if kind == "instance":
        return (
            nn.InstanceNorm2d(channels, affine=True)
            if spatial_dims == 2
            else nn.InstanceNorm3d(channels, affine=True)
        )
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "group":
        return nn.GroupNorm(min(32, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use one of batch, instance, layer, group, none")
