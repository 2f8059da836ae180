"""Perceptual colour maps from a handful of control points, interpolated in numpy.

The ``inferno`` control points are samples of matplotlib's *inferno* map (van der Walt and
Smith, 2015) at 0, 0.1, ..., 1; linear interpolation between them keeps its monotone luminance,
so a brighter pixel always means a larger value, also when printed in grey.
"""

from __future__ import annotations

import numpy as np

#: Control points (position, red, green, blue) of the inferno map, channels in [0, 1].
INFERNO: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.001462, 0.000466, 0.013866),
    (0.1, 0.087411, 0.044556, 0.224813),
    (0.2, 0.258234, 0.038571, 0.406485),
    (0.3, 0.416331, 0.090834, 0.432943),
    (0.4, 0.578304, 0.148039, 0.404411),
    (0.5, 0.735683, 0.215906, 0.330245),
    (0.6, 0.865006, 0.316822, 0.226055),
    (0.7, 0.954506, 0.468744, 0.099874),
    (0.8, 0.987622, 0.645320, 0.039886),
    (0.9, 0.964394, 0.843848, 0.273391),
    (1.0, 0.988362, 0.998364, 0.644924),
)


def apply_colormap(
    values: np.ndarray, points: tuple[tuple[float, ...], ...] = INFERNO
) -> np.ndarray:
    """Map values in ``[0, 1]`` (clipped; NaN as 0) to 8-bit RGB.

    Args:
        values: Any-shaped array of normalised values.
        points: Control points ``(position, r, g, b)`` with increasing positions from 0 to 1.

    Returns:
        ``uint8`` array of shape ``values.shape + (3,)``.
    """
    table = np.asarray(points, dtype=np.float64)
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    v = np.clip(v, 0.0, 1.0)
    channels = [np.interp(v, table[:, 0], table[:, i]) for i in (1, 2, 3)]
    rgb = np.stack(channels, axis=-1)
    return np.asarray(np.round(rgb * 255.0), dtype=np.uint8)


def colormap_hex(n: int, points: tuple[tuple[float, ...], ...] = INFERNO) -> list[str]:
    """``n`` evenly spaced colours of the map as ``#rrggbb`` strings (for SVG gradients)."""
    rgb = apply_colormap(np.linspace(0.0, 1.0, max(2, n)), points)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.tolist()]


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of 8-bit sRGB colours, shape ``(..., 3) -> (...)``."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.asarray(lin @ np.array([0.2126, 0.7152, 0.0722]))
