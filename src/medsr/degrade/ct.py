"""Physical low-dose CT simulation: HU -> attenuation -> projections -> photon counts -> FBP -> HU.

For each 2D slice: ``mu = mu_water (1 + HU / 1000)`` (clipped at 0; 1/mm), line integrals
``p = int mu dl`` by the parallel-beam projector of :mod:`medsr.degrade.ct_projector`, expected
counts ``lambda = I0 dose exp(-p)`` per detector bin and view, measured counts
``N = Poisson(lambda) + sigma_e n`` (electronic noise, ``n`` standard normal), clamped to
``>= min_count``, and the noisy line integrals ``p' = -log(N / (I0 dose))``.

``mode="inject"`` (default) returns ``HU + 1000 / mu_water * FBP(p' - p) / pixel``: the original
image plus the dose-dependent noise only, with no reconstruction blur or bias. This is the standard
noise-insertion technique (simulate noise-free and noisy projections, reconstruct the difference;
FBP is linear, so one reconstruction of ``p' - p`` suffices). ``mode="reconstruct"`` returns the
plain reconstruction ``FBP(p')`` converted to HU.

Slices go through the projector in batches (``method="sparse"``, :mod:`medsr.degrade.ct_sparse`);
the noise is drawn slice by slice, so a seed gives the same volume whatever the batch size.
``method="gather"`` is the original one-slice-at-a-time path, kept as the speed and equality
reference of ``benchmarks/ct_lowdose_speed.py``.

Progress: inside ``with slice_progress(report):`` every :func:`simulate_low_dose_ct` call reports
``report(done, total)`` slices before its first batch and after each batch (``medsr degrade``
drives its progress bar with it). The reporter lives in a context variable, so the library
arguments stay the simulation's and a caller that sets none pays nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeAlias

import numpy as np

from medsr.conventions import MU_WATER_PER_MM
from medsr.degrade._common import check_rng, check_spatial
from medsr.degrade.ct_projector import (
    FBP_FILTERS,
    PROJECTOR_METHODS,
    FbpFilter,
    ProjectorMethod,
    balanced_batch,
    default_detector_count,
    fbp,
    forward_project,
)
from medsr.errors import ConfigError

CtMode: TypeAlias = Literal["inject", "reconstruct"]
CT_MODES: tuple[str, ...] = ("inject", "reconstruct")

#: Rays (views x detectors x slices) simulated together: bounds the float64 sinograms to ~100 MB.
_BATCH_RAYS = 12_000_000

#: ``report(done, total)``: slices simulated so far out of ``total``.
SliceProgress: TypeAlias = Callable[[int, int], None]
_PROGRESS: ContextVar[SliceProgress | None] = ContextVar("medsr_ct_slice_progress", default=None)


@contextmanager
def slice_progress(report: SliceProgress) -> Iterator[None]:
    """Report the slices of every :func:`simulate_low_dose_ct` call made inside the block.

    Args:
        report: Called as ``report(done, total)``: once with ``done = 0`` before the first
            batch, then after each batch of slices, the last time with ``done == total``.

    Yields:
        Nothing; the previous reporter (usually none) is restored on exit.
    """
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def hu_to_mu(hu: np.ndarray, *, mu_water: float = MU_WATER_PER_MM) -> np.ndarray:
    """Linear attenuation (1/mm) from Hounsfield units: ``mu_water (1 + HU / 1000)``."""
    return mu_water * (1.0 + np.asarray(hu, dtype=np.float64) / 1000.0)


def mu_to_hu(mu: np.ndarray, *, mu_water: float = MU_WATER_PER_MM) -> np.ndarray:
    """Hounsfield units from linear attenuation (1/mm): ``1000 (mu - mu_water) / mu_water``."""
    return 1000.0 * (np.asarray(mu, dtype=np.float64) - mu_water) / mu_water


def line_integrals(
    hu: np.ndarray,
    *,
    pixel_size: float,
    views: int,
    detectors: int | None = None,
    mu_water: float = MU_WATER_PER_MM,
    method: ProjectorMethod = "sparse",
) -> np.ndarray:
    """Noise-free line integrals ``p`` (dimensionless) of HU slices; ``mu`` is clipped at 0.

    Shape:
        hu: ``(..., H, W)`` -> ``(..., views, detectors)`` float64.
    """
    mu = np.clip(hu_to_mu(hu, mu_water=mu_water), 0.0, None)
    sino = forward_project(mu, views=views, detectors=detectors, method=method)
    return sino.astype(np.float64) * pixel_size


def simulate_low_dose_ct(
    hu: np.ndarray,
    *,
    rng: np.random.Generator,
    pixel_size: float,
    dose: float = 0.25,
    i0: float = 1e5,
    sigma_e: float = 0.0,
    views: int = 360,
    detectors: int | None = None,
    filter: FbpFilter = "ramp",
    mode: CtMode = "inject",
    min_count: float = 1.0,
    mu_water: float = MU_WATER_PER_MM,
    method: ProjectorMethod = "sparse",
) -> np.ndarray:
    """Simulate a reduced-dose CT scan of each 2D slice (module docstring for the model).

    Args:
        hu: Full-dose image in HU; the last two axes are ``(H, W)``, leading axes are slices.
        rng: Generator for the photon and electronic noise.
        pixel_size: In-plane pixel size in mm (square pixels).
        dose: Dose fraction (``0.25`` is quarter dose), ``> 0``.
        i0: Incident photons per detector bin and view at full dose; ``inf`` is noise-free.
        sigma_e: Electronic noise standard deviation in counts (independent of dose).
        views: Projection angles over 180 degrees; the default is what the DFGAN recipes and
            the bundled ``dfgan-ct-qd`` were trained with (fewer views, more noise per pixel).
        detectors: Detector bins of one pixel; default covers the image diagonal.
        filter: FBP filter: ``ramp``, ``shepp-logan``, ``cosine`` or ``hann``.
        mode: ``"inject"`` (original + noise, default) or ``"reconstruct"`` (plain FBP).
        min_count: Counts are clamped to at least this before the log.
        mu_water: Attenuation of water in 1/mm.
        method: ``"sparse"`` (slices batched, fast) or ``"gather"`` (the original per-slice
            path); the same noise for the same seed, equal to float32 rounding.

    Returns:
        Float32 HU array of the input shape.

    Raises:
        ConfigError: For out-of-range parameters or a bad array.

    Shape:
        hu: ``(..., H, W)``.
    """
    a = check_spatial(hu, spatial_dims=2)
    check_rng(rng)
    _check_params(pixel_size=pixel_size, dose=dose, i0=i0, sigma_e=sigma_e, min_count=min_count)
    if mode not in CT_MODES:
        raise ConfigError(f"unknown CT mode {mode!r}; use one of {CT_MODES}")
    if filter not in FBP_FILTERS:
        raise ConfigError(f"unknown FBP filter {filter!r}; use one of {FBP_FILTERS}")
    if method not in PROJECTOR_METHODS:
        raise ConfigError(f"unknown projector method {method!r}; use one of {PROJECTOR_METHODS}")
    if mode == "inject" and math.isinf(i0):
        return np.ascontiguousarray(a, dtype=np.float32)
    h, w = a.shape[-2:]
    slices = a.reshape(-1, h, w).astype(np.float64)
    rays = int(views) * (default_detector_count((h, w)) if detectors is None else int(detectors))
    batch = 1 if method == "gather" else balanced_batch(len(slices), _BATCH_RAYS // max(1, rays))
    out = np.empty_like(slices)
    report = _PROGRESS.get()
    total = slices.shape[0]
    if report is not None:
        report(0, total)
    for n0 in range(0, total, batch):
        out[n0 : n0 + batch] = _simulate_batch(
            slices[n0 : n0 + batch],
            rng=rng,
            pixel_size=pixel_size,
            flux=i0 * dose,
            sigma_e=sigma_e,
            geometry={"views": views, "detectors": detectors, "method": method},
            filter=filter,
            mode=mode,
            min_count=min_count,
            mu_water=mu_water,
        )
        if report is not None:
            report(min(n0 + batch, total), total)
    return np.ascontiguousarray(out.reshape(a.shape), dtype=np.float32)


def _simulate_batch(
    stack: np.ndarray,
    *,
    rng: np.random.Generator,
    pixel_size: float,
    flux: float,
    sigma_e: float,
    geometry: dict[str, Any],
    filter: FbpFilter,
    mode: CtMode,
    min_count: float,
    mu_water: float,
) -> np.ndarray:
    """:func:`simulate_low_dose_ct` of ``(b, H, W)`` float64 slices; the noise is drawn slice by
    slice, in order, so the random stream does not depend on the batching."""
    h, w = stack.shape[-2:]
    method = geometry["method"]
    p = line_integrals(stack, pixel_size=pixel_size, mu_water=mu_water, **geometry)
    if math.isinf(flux):
        noisy = p
    else:
        noisy = np.empty_like(p)
        for n, p_slice in enumerate(p):
            counts = rng.poisson(flux * np.exp(-p_slice)).astype(np.float64)
            if sigma_e > 0:
                counts += sigma_e * rng.standard_normal(counts.shape)
            noisy[n] = -np.log(np.maximum(counts, min_count) / flux)
    if mode == "inject":
        delta_mu = fbp(noisy - p, shape=(h, w), filter=filter, method=method) / pixel_size
        return stack + 1000.0 / mu_water * delta_mu
    rec = fbp(noisy, shape=(h, w), filter=filter, method=method) / pixel_size
    return mu_to_hu(rec, mu_water=mu_water)


def _check_params(
    *, pixel_size: float, dose: float, i0: float, sigma_e: float, min_count: float
) -> None:
    if not (pixel_size > 0 and math.isfinite(pixel_size)):
        raise ConfigError(f"pixel_size must be a positive number of mm, got {pixel_size!r}")
    if not (dose > 0 and math.isfinite(dose)):
        raise ConfigError(f"dose must be a positive fraction (0.25 = quarter dose), got {dose!r}")
    if not i0 > 0:
        raise ConfigError(f"i0 must be > 0 photons per ray (inf for noise-free), got {i0!r}")
    if not (sigma_e >= 0 and math.isfinite(sigma_e)):
        raise ConfigError(f"sigma_e must be a finite number of counts >= 0, got {sigma_e!r}")
    if not (min_count > 0 and math.isfinite(min_count)):
        raise ConfigError(f"min_count must be > 0, got {min_count!r}")
