"""Activation factory: one name -> one ``nn.Module``, shared by every architecture."""

from __future__ import annotations

from typing import Literal, TypeAlias

from torch import nn

ActivationKind: TypeAlias = Literal["prelu", "leakyrelu", "relu", "elu", "tanh", "sigmoid", "none"]
ACTIVATIONS: tuple[str, ...] = ("prelu", "leakyrelu", "relu", "elu", "tanh", "sigmoid", "none")


def activation(
    kind: str, *, channels: int = 1, negative_slope: float = 0.2, prelu_init: float = 0.25
) -> nn.Module:
    """Build an activation layer by name.

    Args:
        kind: One of ``prelu``, ``leakyrelu``, ``relu``, ``elu``, ``tanh``, ``sigmoid``, ``none``.
        channels: Number of learnable slopes of a PReLU (1 = one shared slope, as in SRGAN).
        negative_slope: Slope of the LeakyReLU for negative inputs.
        prelu_init: Initial PReLU slope.

    Returns:
        The activation module (``nn.Identity`` for ``none``).

    Raises:
        ValueError: If ``kind`` is unknown.
    """
    if kind == "prelu":
        return nn.PReLU(num_parameters=channels, init=prelu_init)
    if kind == "leakyrelu":
        return nn.LeakyReLU(negative_slope)
    if kind == "relu":
        return nn.ReLU()
    if kind == "elu":
        return nn.ELU()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {kind!r}; use one of {', '.join(ACTIVATIONS)}")
