"""Parallel-beam CT: Joseph forward projector, ramp filtering and linear-interpolation back-projection.

Geometry, in pixel units (square pixels): pixel ``(row i, col j)`` sits at ``x = j - (W - 1) / 2``,
``y = (H - 1) / 2 - i`` (y up). View ``v`` of ``V`` has angle ``theta_v = v pi / V``; detector bin
``k`` of ``K`` measures the line ``x cos(theta) + y sin(theta) = t_k`` with
``t_k = k - (K - 1) / 2``, so detector spacing is one pixel. This matches
``skimage.transform.radon`` (angles in degrees there, detector axis first).

The forward projector steps one image row (or column) at a time along each ray and interpolates
linearly across it (Joseph's method), with zero outside the image. Line integrals are in pixel units:
multiply by the pixel size for physical units. :func:`fbp` inverts it with the discrete ramp filter of
Kak & Slaney (zero-padded to a power of two, optional apodisation) and a back-projection that
interpolates each filtered projection linearly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np

from medsr.errors import ConfigError

if TYPE_CHECKING:
    import torch

FbpFilter: TypeAlias = Literal["ramp", "shepp-logan", "cosine", "hann"]
FBP_FILTERS: tuple[str, ...] = ("ramp", "shepp-logan", "cosine", "hann")
#: ``"sparse"``: all slices through shared sparse interpolation matrices
#: (:mod:`medsr.degrade.ct_sparse`, the default); ``"gather"``: the original per-view gathers, kept
#: as the reference the benchmark ``benchmarks/ct_lowdose_speed.py`` times it against.
ProjectorMethod: TypeAlias = Literal["sparse", "gather"]
PROJECTOR_METHODS: tuple[str, ...] = ("sparse", "gather")

#: Interpolations per vectorised step: large enough that few parallel regions run (torch's thread
#: barriers are costly on a busy machine), small enough to bound temporaries (~60 MB).
_CHUNK_ELEMENTS = 1_500_000


def balanced_batch(n: int, most: int) -> int:
    """The batch size that splits ``n`` items into the fewest batches of at most ``most``, evenly."""
    batches = -(-n // max(1, most))
    return max(1, -(-n // max(1, batches)))


def default_detector_count(shape: tuple[int, int]) -> int:
    """Smallest odd number of one-pixel bins that covers the image diagonal (no truncation)."""
    n = math.ceil(math.hypot(shape[0], shape[1])) + 1
    return n + 1 - n % 2


def view_angles(views: int) -> np.ndarray:
    """Projection angles ``v pi / V`` in radians, ``v = 0 .. V - 1``."""
    if int(views) != views or views < 1:
        raise ConfigError(f"views must be a positive integer, got {views!r}")
    return np.arange(int(views), dtype=np.float64) * np.pi / int(views)


def forward_project(
    images: np.ndarray,
    *,
    views: int,
    detectors: int | None = None,
    method: ProjectorMethod = "sparse",
) -> np.ndarray:
    """Parallel-beam line integrals of 2D images (Joseph's method), in pixel units.

    Args:
        images: Real array whose last two axes are ``(H, W)``.
        views: Number of projection angles over 180 degrees.
        detectors: Detector bins (one pixel wide); default covers the diagonal.
        method: ``"sparse"`` (fast) or ``"gather"`` (the reference); equal to float32 rounding.

    Returns:
        Float32 sinograms.

    Raises:
        ConfigError: For bad geometry arguments.

    Shape:
        images: ``(..., H, W)`` -> ``(..., views, detectors)``.
    """
    a = np.asarray(images)
    h, w = a.shape[-2:]
    nd = _detectors(detectors, (h, w))
    theta = view_angles(views)
    _check_method(method)
    if method == "sparse":
        from medsr.degrade.ct_sparse import forward_project_sparse

        stack = np.ascontiguousarray(a.reshape(-1, h, w), dtype=np.float32)
        sino = forward_project_sparse(stack, views=len(theta), detectors=nd)
        return sino.reshape(*a.shape[:-2], len(theta), nd)
    return _forward_gather(a, theta, nd)


def _check_method(method: str) -> None:
    if method not in PROJECTOR_METHODS:
        raise ConfigError(f"unknown projector method {method!r}; use one of {PROJECTOR_METHODS}")


def _forward_gather(a: np.ndarray, theta: np.ndarray, nd: int) -> np.ndarray:
    """The reference projector: per chunk of views, gather the interpolation pairs of all slices."""
    import torch

    h, w = a.shape[-2:]
    flat = torch.from_numpy(np.ascontiguousarray(a.reshape(-1, h, w), dtype=np.float32))
    t = torch.arange(nd, dtype=torch.float64) - (nd - 1) / 2.0
    out = torch.zeros(flat.shape[0], len(theta), nd, dtype=torch.float32)
    cos, sin = np.cos(theta), np.sin(theta)
    by_rows = np.abs(cos) >= np.abs(sin)
    for rows in (True, False):
        chosen = np.flatnonzero(by_rows == rows)
        if chosen.size == 0:
            continue
        lines = flat if rows else flat.transpose(1, 2).contiguous()
        nl = lines.shape[1]
        # y of each row (rows) or x of each column (columns)
        coord = (h - 1) / 2.0 - torch.arange(nl, dtype=torch.float64)
        if not rows:
            coord = torch.arange(nl, dtype=torch.float64) - (w - 1) / 2.0
        pair, stride, pad = _interp_pairs(lines, margin=nd / math.sqrt(2.0) + max(h, w) / 2.0)
        base = (torch.arange(nl) * stride)[None, :, None]
        step = max(1, _CHUNK_ELEMENTS // max(1, flat.shape[0] * nl * nd))
        for s in range(0, chosen.size, step):
            idx = chosen[s : s + step]
            c = torch.from_numpy(cos[idx])[:, None]
            sn = torch.from_numpy(sin[idx])[:, None]
            if rows:  # column index of the ray at row y: (t - y sin) / cos + (W - 1) / 2
                along = t[None, :] / c
                offset = -coord[None, :] * sn / c + (w - 1) / 2.0 + pad
                scale = 1.0 / c.abs()
            else:  # row index of the ray at column x: (H - 1) / 2 - (t - x cos) / sin
                along = -t[None, :] / sn
                offset = coord[None, :] * c / sn + (h - 1) / 2.0 + pad
                scale = 1.0 / sn.abs()
            pos = (along[:, None, :] + offset[:, :, None]).to(torch.float32)
            sums = _lerp_gather(pair, base, pos).sum(dim=2)  # (B, n, nd)
            out[:, torch.from_numpy(idx)] = sums * scale.to(torch.float32)[None]
    return out.numpy().reshape(*a.shape[:-2], len(theta), nd)


def fbp_filter_kernel(detectors: int, *, filter: FbpFilter = "ramp") -> np.ndarray:
    """Frequency response of the FBP filter on the zero-padded length ``P`` (a power of two).

    The discrete ramp of Kak & Slaney (``h[0] = 1/4``, ``h[n] = -1 / (pi n)^2`` for odd ``n``)
    transformed to frequency, times the apodisation: Shepp-Logan ``sinc(nu)``, cosine
    ``cos(pi nu)`` or Hann ``(1 + cos(2 pi nu)) / 2`` with ``nu`` in cycles per bin.

    Returns:
        Real float64 array of length ``P = max(64, 2^ceil(log2(2 detectors)))``.

    Raises:
        ConfigError: For an unknown filter.
    """
    if filter not in FBP_FILTERS:
        raise ConfigError(f"unknown FBP filter {filter!r}; use one of {FBP_FILTERS}")
    size = max(64, 2 ** math.ceil(math.log2(2 * detectors)))
    n = np.arange(size)
    dist = np.minimum(n, size - n)
    h = np.zeros(size)
    h[0] = 0.25
    odd = dist % 2 == 1
    h[odd] = -1.0 / (np.pi * dist[odd]) ** 2
    response = np.real(np.fft.fft(h))
    nu = np.fft.fftfreq(size)
    if filter == "shepp-logan":
        response *= np.sinc(nu)
    elif filter == "cosine":
        response *= np.cos(np.pi * nu)
    elif filter == "hann":
        response *= 0.5 * (1.0 + np.cos(2.0 * np.pi * nu))
    return response


def filter_sinogram(sinogram: np.ndarray, *, filter: FbpFilter = "ramp") -> np.ndarray:
    """Convolve each projection with the FBP filter (zero-padded, so no wrap-around).

    Args:
        sinogram: Projections, detector axis last.
        filter: ``ramp``, ``shepp-logan``, ``cosine`` or ``hann``.

    Returns:
        Float64 filtered projections.

    Shape:
        sinogram: ``(..., views, detectors)`` -> same.
    """
    s = np.asarray(sinogram, dtype=np.float64)
    nd = s.shape[-1]
    response = fbp_filter_kernel(nd, filter=filter)
    size = response.shape[0]
    spec = np.fft.rfft(s, n=size, axis=-1) * response[: size // 2 + 1]
    return np.fft.irfft(spec, n=size, axis=-1)[..., :nd]


def backproject(
    sinogram: np.ndarray, *, shape: tuple[int, int], method: ProjectorMethod = "sparse"
) -> np.ndarray:
    """Sum of the projections smeared back along their rays, times ``pi / views``.

    Each pixel reads projection ``v`` at ``t = x cos(theta_v) + y sin(theta_v)`` by linear
    interpolation (zero beyond the detector).

    Args:
        sinogram: (Filtered) projections, ``views`` angles over 180 degrees.
        shape: Image ``(H, W)``.
        method: ``"sparse"`` (fast) or ``"gather"`` (the reference); equal to float32 rounding.

    Returns:
        Float32 images.

    Raises:
        ConfigError: For an unknown method.

    Shape:
        sinogram: ``(..., views, detectors)`` -> ``(..., H, W)``.
    """
    s = np.asarray(sinogram)
    views, nd = s.shape[-2:]
    h, w = int(shape[0]), int(shape[1])
    _check_method(method)
    if method == "sparse":
        from medsr.degrade.ct_sparse import backproject_sparse

        flat = np.ascontiguousarray(s.reshape(-1, views, nd), dtype=np.float32)
        return backproject_sparse(flat, shape=(h, w)).reshape(*s.shape[:-2], h, w)
    return _backproject_gather(s, (h, w))


def _backproject_gather(s: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The reference back-projection: per chunk of views, gather for all pixels and slices."""
    import torch

    views, nd = s.shape[-2:]
    h, w = shape
    theta = view_angles(views)
    flat = torch.from_numpy(np.ascontiguousarray(s.reshape(-1, views, nd), dtype=np.float32))
    pair, stride, pad = _interp_pairs(flat, margin=math.hypot(h, w) / 2.0)
    yy, xx = torch.meshgrid(
        (h - 1) / 2.0 - torch.arange(h, dtype=torch.float64),
        torch.arange(w, dtype=torch.float64) - (w - 1) / 2.0,
        indexing="ij",
    )
    x, y = xx.reshape(1, -1), yy.reshape(1, -1)
    out = torch.zeros(flat.shape[0], h * w, dtype=torch.float32)
    step = max(1, _CHUNK_ELEMENTS // max(1, flat.shape[0] * h * w))
    for v0 in range(0, views, step):
        v = torch.arange(v0, min(views, v0 + step))
        th = torch.from_numpy(theta[v0 : v0 + step])[:, None]
        pos = (x * torch.cos(th) + y * torch.sin(th) + (nd - 1) / 2.0 + pad).to(torch.float32)
        out += _lerp_gather(pair, (v * stride)[:, None], pos).sum(dim=1)
    out *= math.pi / views
    return out.numpy().reshape(*s.shape[:-2], h, w)


def fbp(
    sinogram: np.ndarray,
    *,
    shape: tuple[int, int],
    filter: FbpFilter = "ramp",
    method: ProjectorMethod = "sparse",
) -> np.ndarray:
    """Filtered back-projection of :func:`forward_project` sinograms (pixel units in, per pixel out).

    Args:
        sinogram: Line integrals in pixel units.
        shape: Image ``(H, W)``.
        filter: ``ramp``, ``shepp-logan``, ``cosine`` or ``hann``.
        method: Back-projection ``"sparse"`` (fast) or ``"gather"`` (the reference).

    Returns:
        Float32 images (attenuation per pixel; divide by the pixel size for 1/mm).

    Raises:
        ConfigError: For an unknown filter or method.

    Shape:
        sinogram: ``(..., views, detectors)`` -> ``(..., H, W)`` float32.
    """
    _check_method(method)
    return backproject(filter_sinogram(sinogram, filter=filter), shape=shape, method=method)


def _detectors(detectors: int | None, shape: tuple[int, int]) -> int:
    if detectors is None:
        return default_detector_count(shape)
    if int(detectors) != detectors or detectors < 1:
        raise ConfigError(f"detectors must be a positive integer, got {detectors!r}")
    return int(detectors)


def _interp_pairs(lines: torch.Tensor, *, margin: float) -> tuple[torch.Tensor, int, int]:
    """Zero-pad the last axis by ``margin`` and store ``(value, next - value)`` pairs, flattened.

    Returns:
        ``pairs`` of shape ``(B, L * stride, 2)``, the per-line ``stride`` and the left ``pad``.
    """
    import torch

    pad = math.ceil(margin) + 2
    padded = torch.nn.functional.pad(lines, (pad, pad + 1))
    diff = padded[..., 1:] - padded[..., :-1]
    pair = torch.stack([padded[..., :-1], diff], dim=-1)
    stride = pair.shape[-2]
    return pair.reshape(lines.shape[0], -1, 2), stride, pad


def _lerp_gather(pair: torch.Tensor, base: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Linear interpolation at ``pos`` (padded coordinates) on rows starting at flat ``base``."""
    import torch

    i0 = torch.floor(pos)
    frac = pos - i0
    index = (base + i0.to(torch.int64)).reshape(-1)
    g = pair[:, index]  # (B, M, 2)
    vals = torch.addcmul(g[..., 0], frac.reshape(1, -1), g[..., 1])
    return vals.reshape(pair.shape[0], *pos.shape)
