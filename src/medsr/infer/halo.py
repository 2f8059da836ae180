"""The halo of exact sliding-window inference, measured from the model itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from medsr.errors import MedsrError
from medsr.models.analysis import receptive_field


def exact_halo(
    model: nn.Module,
    *,
    spatial_dims: int,
    in_channels: int,
    scale: Sequence[int],
    probe_size: int | None = None,
    max_probe: int | None = None,
    thin: int = 5,
) -> tuple[int, ...]:
    """Context voxels per side that make window-by-window inference equal one full pass.

    The receptive field is measured by :func:`medsr.models.analysis.receptive_field`, one axis at a
    time on a thin probe (long along that axis, ``thin`` voxels across the others; a convolutional
    field is a box, so its extent along one axis does not depend on the others' size), the long
    edge doubling until the field no longer reaches the probe border. A model that refuses thin
    inputs (size constraints) is probed with a cube instead. The halo is the field's margin (the
    larger of its extents before and after the anchor voxel); on an axis with ``scale > 1`` one
    voxel is added, because the output voxels that share one input voxel (sub-pixel phases) need
    not have the same field as the probed centre voxel.

    Args:
        model: A translation-equivariant network (convolutions, point-wise ops, pixel shuffle).
        spatial_dims: 2 or 3.
        in_channels: Input channels of the network.
        scale: Per network axis output/input size ratio.
        probe_size: First long probe edge (default 32).
        max_probe: Largest long edge tried (default 512).
        thin: Probe size across the other axes.

    Returns:
        Halo per network axis, in input voxels.

    Raises:
        MedsrError: If the field still reaches the border of the largest probe (a global
            operation such as attention pooling makes exact tiling impossible: use blended mode).
    """

    top = max_probe or 512

    def margins_for(axes: list[int | None]) -> list[int]:
        out: list[int] = []
        for axis in axes:
            size = probe_size or 32
            # a cubic 3D probe grows as size^3: stop it at 128 (8 MB per channel in float64)
            limit = top if axis is not None or spatial_dims == 2 else min(top, 128)
            while True:
                try:
                    out.extend(
                        _margin_along(
                            model, receptive_field, spatial_dims, in_channels, axis, size, thin
                        )
                    )
                    break
                except _Truncated:
                    if size >= limit:
                        raise MedsrError(
                            f"the receptive field of {type(model).__name__} reaches the border of "
                            f"a {size}-voxel probe (a global operation?); exact mode cannot tile "
                            "it: use blended mode"
                        ) from None
                    size = min(2 * size, limit)
        return out

    try:
        margins = margins_for(list(range(spatial_dims)))
    except ValueError:  # the model refuses thin inputs (size constraints): cubic probes
        margins = margins_for([None])
    return tuple(m + (1 if s > 1 else 0) for m, s in zip(margins, scale, strict=True))


class _Truncated(Exception):
    pass


def _margin_along(
    model: nn.Module,
    measure: Any,
    nd: int,
    in_channels: int,
    axis: int | None,
    size: int,
    thin: int,
) -> tuple[int, ...]:
    """Margin along ``axis`` (all axes for ``axis=None``, cubic probe); raise _Truncated."""
    shape = [size] * nd if axis is None else [size if a == axis else thin for a in range(nd)]
    rf = measure(model, spatial_dims=nd, in_channels=in_channels, probe_size=shape, num_probes=2)
    if axis is None:
        if any(rf.truncated):
            raise _Truncated
        return tuple(rf.margin)
    if rf.truncated[axis]:
        raise _Truncated
    return (rf.margin[axis],)
