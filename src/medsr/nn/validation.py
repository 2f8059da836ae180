"""Input checks shared by the models: rank, channels and spatial-size constraints.

Every model validates its input before the first layer so that a wrong tensor fails with a
``ValueError`` that names the model, the offending shape and the fix, instead of a shape error
deep inside a convolution.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from medsr.conventions import normalize_scale


def check_conv_stack(spatial_dims: int, in_channels: int, channels: Sequence[int]) -> None:
    """Constructor arguments every convolutional discriminator shares.

    Raises:
        ValueError: ``spatial_dims`` not 2 or 3, ``in_channels < 1`` or ``channels`` empty or
            holding a non-positive width.
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty list of positive ints, got {channels!r}")


def check_input(
    x: Tensor,
    *,
    model: str,
    spatial_dims: int,
    in_channels: int,
    multiple_of: int | Sequence[int] = 1,
    min_size: int | Sequence[int] = 1,
) -> None:
    """Validate a batch ``(B, C, *spatial)`` before it enters a model.

    Args:
        x: The batch.
        model: Model name used in the message.
        spatial_dims: Expected number of spatial axes (2 or 3).
        in_channels: Expected channel count.
        multiple_of: Every spatial size must be a multiple of this (one value or one per axis).
        min_size: Every spatial size must be at least this (one value or one per axis).

    Raises:
        ValueError: If the rank, channel count or a spatial size is wrong; the message says how
            to fix the input.
    """
    if x.ndim != spatial_dims + 2:
        layout = "(B, C, H, W)" if spatial_dims == 2 else "(B, C, D, H, W)"
        raise ValueError(
            f"{model} expects a {spatial_dims}D batch {layout} with {spatial_dims + 2} axes, got "
            f"shape {tuple(x.shape)}; add the batch/channel axes or build the model with "
            f"spatial_dims={x.ndim - 2}"
        )
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{model} was built for in_channels={in_channels} but the input has {x.shape[1]} "
            f"channels (shape {tuple(x.shape)}); rebuild with in_channels={x.shape[1]} or fix the "
            "input"
        )
    spatial = tuple(int(s) for s in x.shape[2:])
    mults = normalize_scale(multiple_of, spatial_dims, name="multiple_of")
    mins = normalize_scale(min_size, spatial_dims, name="min_size", minimum=0)
    for axis, (size, mult, low) in enumerate(zip(spatial, mults, mins)):
        if size < low:
            raise ValueError(
                f"{model} needs every spatial size >= {low}, but axis {axis} of the input "
                f"{spatial} has {size}; use a larger patch"
            )
        if size % mult:
            raise ValueError(
                f"{model} needs spatial sizes divisible by {mults}, got {spatial}; pad or crop "
                f"axis {axis} to a multiple of {mult}"
            )
