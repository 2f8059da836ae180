"""Input checks shared by the losses."""

from __future__ import annotations

from torch import Tensor


def same_shape(
    name: str, a: Tensor, b: Tensor, a_name: str = "pred", b_name: str = "target"
) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: {a_name} shape {tuple(a.shape)} differs from {b_name} shape "
            f"{tuple(b.shape)}; pass tensors of the same shape"
        )


def spatial_dims_of(name: str, x: Tensor) -> int:
    """2 for ``(B, C, H, W)``, 3 for ``(B, C, D, H, W)``; ``ValueError`` otherwise."""
    if x.ndim not in (4, 5):
        raise ValueError(
            f"{name} expects a (B, C, H, W) or (B, C, D, H, W) batch, got shape {tuple(x.shape)}"
        )
    return x.ndim - 2
