"""k-space truncation: keep the central part of the spectrum, as a low-resolution MRI acquisition does.

Convention (see ``docs/degradations.md``). For an axis of ``N`` samples the discrete frequencies are
the integers ``k`` of ``np.fft.fftfreq(N, 1 / N)``; DC is ``k = 0`` (index ``N // 2`` after
``fftshift``). Truncation by factor ``f`` keeps ``M = floor(N / f + 1/2)`` frequencies (clipped to
``[1, N]``), namely the frequencies of an ``M``-point DFT:

    -floor(M / 2) <= k <= ceil(M / 2) - 1

so for odd ``M`` the kept band is symmetric and for even ``M`` it holds one unpaired line at
``-M / 2`` (what centred cropping of an ``fftshift``-ed spectrum gives). The alternative
"zero ``round(N / e)`` lines at each edge" convention of some mDCSRN reproductions is
:func:`kspace_keep_count_zero_edges`; ``e = 4`` is the paper's factor 2, ``e = 2.5`` is factor 5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np

from medsr.degrade._common import check_spatial, per_axis, spatial_axes
from medsr.errors import ConfigError

Window: TypeAlias = Literal["none", "hamming", "tukey"]
WINDOWS: tuple[str, ...] = ("none", "hamming", "tukey")

#: Fewest frequencies a truncated axis of a whole scan may keep (``medsr degrade``, data
#: consistency): one line (DC alone) makes the image constant along that axis.
MIN_KSPACE_LINES = 2


def kspace_keep_count(n: int, *, factor: float) -> int:
    """Number of frequencies kept on an axis of ``n`` samples by truncation factor ``factor``.

    Args:
        n: Samples on the axis.
        factor: Truncation factor ``f >= 1`` (``1`` keeps everything).

    Returns:
        ``M = floor(n / f + 1/2)`` (round half up), clipped to ``[1, n]``.

    Raises:
        ConfigError: If ``factor < 1``.
    """
    if not factor >= 1.0:
        raise ConfigError(f"k-space truncation factor must be >= 1, got {factor!r}")
    return max(1, min(int(n), math.floor(n / factor + 0.5)))


def kspace_keep_count_zero_edges(n: int, *, edge_divisor: float) -> int:
    """Kept frequencies when ``round(n / edge_divisor)`` lines are zeroed at *each* edge.

    This is the convention of mDCSRN reproductions that zero ``round(N / 2.5)`` lines per edge:
    they keep ``N - 2 round(N / 2.5) ~ 0.2 N`` lines, i.e. a per-axis factor of about 5 (not 2.5).
    Equivalent factor: ``f = e / (e - 2)``; the mDCSRN paper's factor 2 is ``e = 4``.

    Args:
        n: Samples on the axis.
        edge_divisor: ``e > 2``; ``math.inf`` zeroes nothing.

    Returns:
        ``n - 2 floor(n / e + 1/2)``; it has the parity of ``n`` and the kept band is the same set of
        frequencies that :func:`kspace_keep_count`'s convention keeps for that count.

    Raises:
        ConfigError: If ``e <= 2`` or nothing would be left.
    """
    if not edge_divisor > 2.0:
        raise ConfigError(
            f"edge_divisor must be > 2 (2 would zero every line), got {edge_divisor!r}"
        )
    zeroed = 0 if math.isinf(edge_divisor) else math.floor(n / edge_divisor + 0.5)
    keep = int(n) - 2 * zeroed
    if keep < 1:
        raise ConfigError(f"edge_divisor {edge_divisor} zeroes all {n} lines")
    return keep


def kspace_window(k: np.ndarray, m: int, *, window: Window, tukey_alpha: float = 0.5) -> np.ndarray:
    """Weights of a window over the kept band, as a function of the integer frequency.

    With ``u = k / (M / 2)`` (``u = 0`` at DC, ``|u| = 1`` at the band edge): ``none`` is 1,
    ``hamming`` is ``0.54 + 0.46 cos(pi u)``, ``tukey`` is flat for ``|u| <= 1 - alpha`` and a
    raised cosine to 0 at ``|u| = 1`` beyond (``alpha = 1`` is Hann, ``0`` is no window).
    DC always has weight 1, so the image mean is preserved.

    Args:
        k: Integer frequencies (any shape).
        m: Kept band size ``M``.
        window: ``"none"``, ``"hamming"`` or ``"tukey"``.
        tukey_alpha: Taper fraction of the Tukey window, in ``[0, 1]``.

    Returns:
        Float64 weights of the shape of ``k``.

    Raises:
        ConfigError: For an unknown window or an ``alpha`` outside ``[0, 1]``.
    """
    u = np.abs(np.asarray(k, dtype=np.float64)) / max(m / 2.0, 0.5)
    if window == "none":
        return np.ones_like(u)
    if window == "hamming":
        return 0.54 + 0.46 * np.cos(np.pi * np.minimum(u, 1.0))
    if window == "tukey":
        if not 0.0 <= tukey_alpha <= 1.0:
            raise ConfigError(f"tukey_alpha must be in [0, 1], got {tukey_alpha!r}")
        if tukey_alpha == 0.0:
            return np.ones_like(u)
        edge = 1.0 - tukey_alpha
        taper = 0.5 * (1.0 + np.cos(np.pi * np.clip(u - edge, 0.0, tukey_alpha) / tukey_alpha))
        return np.where(u <= edge, 1.0, taper)
    raise ConfigError(f"unknown k-space window {window!r}; use one of {WINDOWS}")


def truncate_kspace(
    x: np.ndarray,
    *,
    spatial_dims: int,
    factor: float | Sequence[float] = 1.0,
    keep: Sequence[int] | None = None,
    keep_shape: bool = True,
    window: Window = "none",
    tukey_alpha: float = 0.5,
    magnitude: bool = True,
) -> np.ndarray:
    """Keep the central part of k-space on each spatial axis (a low-resolution acquisition).

    ``keep_shape=True`` zero-fills the dropped frequencies and returns the image on the same grid
    (the mDCSRN input). ``keep_shape=False`` returns the true low-resolution image on an ``M``-point
    grid covering the same field of view: LR voxel ``j`` is the band-limited image at input index
    ``(j + 1/2) N / M - 1/2`` (a sub-voxel phase ramp puts the samples there), and the spectrum is
    scaled by ``M / N`` so intensities (the mean in particular) stay comparable. The window, if any,
    is applied only along truncated axes.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        factor: Truncation factor per spatial axis (or one for all), ``>= 1``.
        keep: Explicit kept counts per spatial axis; overrides ``factor``.
        keep_shape: Zero-fill on the input grid (True) or crop to the low-resolution grid (False).
        window: Window over the kept band (see :func:`kspace_window`).
        tukey_alpha: Taper fraction of the Tukey window.
        magnitude: Return the magnitude (MRI convention); False returns the real part.

    Returns:
        Float32 array; with ``keep_shape=False`` the spatial shape is the kept counts.

    Raises:
        ConfigError: For bad factors, counts, windows or arrays.

    Shape:
        x: ``(..., *spatial)``; output ``(..., *spatial)`` or ``(..., *keep)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    axes = spatial_axes(a.ndim, spatial_dims)
    sizes = [a.shape[ax] for ax in axes]
    if keep is None:
        f = per_axis(factor, spatial_dims, name="factor")
        counts = [kspace_keep_count(n, factor=fi) for n, fi in zip(sizes, f)]
    else:
        counts = [int(v) for v in per_axis(keep, spatial_dims, name="keep")]
        if any(not 1 <= m <= n for m, n in zip(counts, sizes)):
            raise ConfigError(
                f"keep counts {tuple(counts)} must lie in [1, N] for shape {tuple(sizes)}"
            )
    kspace_window(np.zeros(1), 1, window=window, tukey_alpha=tukey_alpha)  # validate early
    active = [(ax, n, m) for ax, n, m in zip(axes, sizes, counts) if m < n]
    if not active:
        return _finish(a.astype(np.float64), magnitude)
    spec = np.fft.fftn(a.astype(np.float64), axes=[ax for ax, _, _ in active])
    for ax, n, m in active:
        k = np.rint(np.fft.fftfreq(n, d=1.0 / n)).astype(np.int64)
        inside = (k >= -(m // 2)) & (k <= (m - 1) // 2)
        weight = np.where(inside, kspace_window(k, m, window=window, tukey_alpha=tukey_alpha), 0.0)
        weight = weight.astype(np.complex128)
        if not keep_shape:
            shift = 0.5 * (n / m - 1.0)
            weight *= np.exp(2j * np.pi * k * shift / n) * (m / n)
        spec *= _along(weight, ax, a.ndim)
        if not keep_shape:
            lr_k = np.rint(np.fft.fftfreq(m, d=1.0 / m)).astype(np.int64)
            spec = np.take(spec, lr_k % n, axis=ax)
    img = np.fft.ifftn(spec, axes=[ax for ax, _, _ in active])
    return _finish(img, magnitude)


def truncate_kspace_zero_edges(
    x: np.ndarray,
    *,
    spatial_dims: int,
    edge_divisor: float | Sequence[float],
    keep_shape: bool = True,
    window: Window = "none",
    tukey_alpha: float = 0.5,
    magnitude: bool = True,
) -> np.ndarray:
    """:func:`truncate_kspace` with the "zero ``round(N / e)`` lines per edge" convention.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        edge_divisor: ``e`` per spatial axis (``math.inf`` leaves an axis alone), e.g.
            ``(inf, 2.5, 2.5)`` for the reproductions' setting, ``(inf, 4, 4)`` for the paper's 2x2.
        keep_shape: See :func:`truncate_kspace`.
        window: See :func:`truncate_kspace`.
        tukey_alpha: See :func:`truncate_kspace`.
        magnitude: See :func:`truncate_kspace`.

    Returns:
        Float32 array (see :func:`truncate_kspace`).

    Raises:
        ConfigError: For a divisor ``<= 2`` or a bad array.

    Shape:
        x: ``(..., *spatial)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    divisors = per_axis(edge_divisor, spatial_dims, name="edge_divisor")
    sizes = a.shape[a.ndim - spatial_dims :]
    keep = [kspace_keep_count_zero_edges(n, edge_divisor=e) for n, e in zip(sizes, divisors)]
    return truncate_kspace(
        a,
        spatial_dims=spatial_dims,
        keep=keep,
        keep_shape=keep_shape,
        window=window,
        tukey_alpha=tukey_alpha,
        magnitude=magnitude,
    )


def _along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _finish(img: np.ndarray, magnitude: bool) -> np.ndarray:
    out = np.abs(img) if magnitude else np.real(img)
    return np.ascontiguousarray(out, dtype=np.float32)
