"""Constructor-argument checks shared by the generators (messages say how to fix the call)."""

from __future__ import annotations

from collections.abc import Sequence


def check_positive(**values: int) -> None:
    """Raise ``ValueError`` unless every keyword value is a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_spatial_dims(spatial_dims: int, allowed: Sequence[int] = (2, 3)) -> None:
    """Raise ``ValueError`` unless ``spatial_dims`` is one of ``allowed``."""
    if spatial_dims not in allowed:
        raise ValueError(
            f"spatial_dims must be one of {tuple(allowed)}, got {spatial_dims!r}; "
            "use 2 for (B, C, H, W) slices or 3 for (B, C, D, H, W) volumes"
        )


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
