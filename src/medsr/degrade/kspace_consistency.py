"""k-space data consistency for MRI super-resolution outputs.

An MRI input measured only the central part of k-space. Data consistency replaces that part of
the output's spectrum by what was measured, so the output agrees exactly with the acquisition and
the network only fills in the frequencies that were not measured. The conventions are those of
:func:`medsr.degrade.kspace.truncate_kspace`:

* **same grid** (zero-filled input, ``scale == 1``; mDCSRN): on an axis of ``N`` samples with ``M``
  kept frequencies the measured band is ``-floor(M/2) <= k <= ceil(M/2) - 1`` of the input's own
  DFT; the output's DFT there is replaced by the input's.
* **low resolution** (``M``-point input, output ``N = s M`` points over the same field of view):
  ``truncate_kspace(keep_shape=False)`` gives ``F_M(x_lq)[k] = F_N(x)[k] exp(2 pi i k t / N) M / N``
  with the sub-voxel shift ``t = (N / M - 1) / 2``, for the ``M`` frequencies ``k`` of an ``M``-point
  DFT. The output's DFT at those ``k`` is set to ``F_M(x_lq)[k] exp(-2 pi i k t / N) N / M``.

For an even ``M`` the band holds the unpaired line ``k = -M/2``; its mirror ``+M/2`` is set to the
complex conjugate so the output stays real (Hermitian spectrum). The output is the real part of
the inverse DFT (not its magnitude: a magnitude would change the measured band again).

The relative consistency error is ``||A(out) - y|| / ||y||`` with ``A`` the measurement operator
above (the output's DFT restricted to the measured band and mapped to the input's grid) and ``y``
the measured k-space (the band of the input's DFT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsr.errors import ConfigError


@dataclass(frozen=True)
class ConsistencyReport:
    """Outcome of :func:`apply_data_consistency`.

    Attributes:
        mode: ``"same-grid"`` or ``"low-resolution"``.
        keep: Measured frequencies per spatial axis ``(D, H, W)``.
        error_before: Relative consistency error of the network output.
        error_after: The same after the replacement (float32 output).
    """

    mode: str
    keep: tuple[int, ...]
    error_before: float
    error_after: float

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "keep": list(self.keep),
            "relative_error_before": self.error_before,
            "relative_error_after": self.error_after,
        }


@dataclass(frozen=True)
class _Axis:
    n: int  # output samples
    pos_out: np.ndarray  # indices into the output DFT axis
    pos_meas: np.ndarray  # indices into the measured DFT axis
    weight: np.ndarray  # measured = output DFT * weight, at those indices
    band: np.ndarray  # bool over the output axis: measured frequencies


def _band(n: int, m: int) -> np.ndarray:
    k = np.rint(np.fft.fftfreq(n, d=1.0 / n)).astype(np.int64)
    return (k >= -(m // 2)) & (k <= (m - 1) // 2)


def _axes(out_shape: Sequence[int], meas_shape: Sequence[int], keep: Sequence[int]) -> list[_Axis]:
    axes = []
    for n, n_meas, m in zip(out_shape, meas_shape, keep, strict=True):
        band = _band(n, m)
        if n_meas == n:  # same grid: the band of the input's own DFT
            pos = np.flatnonzero(band)
            axes.append(_Axis(n, pos, pos, np.ones(pos.size, dtype=np.complex128), band))
            continue
        k = np.rint(np.fft.fftfreq(m, d=1.0 / m)).astype(np.int64)  # the M-point frequencies
        shift = 0.5 * (n / m - 1.0)
        weight = np.exp(2j * np.pi * k * shift / n) * (m / n)
        axes.append(_Axis(n, k % n, k % m, weight, band))
    return axes


def _sel(index: Sequence[np.ndarray]) -> Any:
    """``arr[_sel(idx)]``: the sub-grid ``np.ix_(*idx)`` of the trailing axes."""
    return (Ellipsis, *np.ix_(*index))


def _outer(vectors: Sequence[np.ndarray], lead: int) -> np.ndarray:
    out = np.ones((1,) * lead, dtype=vectors[0].dtype)
    for v in vectors:
        out = out[..., None] * v
    return out


def _error(spec_out: np.ndarray, meas: np.ndarray, axes: list[_Axis], lead: int) -> float:
    sel_out = spec_out[_sel([a.pos_out for a in axes])]
    sel_meas = meas[_sel([a.pos_meas for a in axes])]
    pred = sel_out * _outer([a.weight for a in axes], lead)
    denom = float(np.linalg.norm(sel_meas))
    return float(np.linalg.norm(pred - sel_meas)) / (denom if denom > 0 else 1.0)


def measured_band(
    out_shape: tuple[int, ...],
    meas_shape: tuple[int, ...],
    keep: Sequence[int] | None = None,
    factor: float | Sequence[float] | None = None,
) -> tuple[str, tuple[int, ...]]:
    """The mode and the measured frequencies per axis that data consistency would use.

    Callers check a request with it before any work (``medsr enhance`` does, before the model
    runs); :func:`apply_data_consistency` uses it too.

    Returns:
        ``(mode, counts)``: ``"same-grid"`` or ``"low-resolution"``, and the measured frequencies
        per spatial axis.

    Raises:
        ConfigError: For shapes that do not fit, a same-grid request without ``keep`` or
            ``factor``, or a band that keeps fewer than
            :data:`~medsr.degrade.kspace.MIN_KSPACE_LINES` lines on a truncated axis.
    """
    from medsr.degrade.kspace import MIN_KSPACE_LINES

    mode, counts = _resolve(out_shape, meas_shape, keep, factor)
    for axis, (m, n) in enumerate(zip(counts, out_shape, strict=True)):
        if mode == "same-grid" and m < min(n, MIN_KSPACE_LINES):
            raise ConfigError(
                f"k-space factor {factor if keep is None else keep} keeps {m} of {n} lines on "
                f"spatial axis {axis}; at least {MIN_KSPACE_LINES} must be measured: use a smaller "
                "factor"
            )
    return mode, counts


def _resolve(
    out_shape: tuple[int, ...],
    meas_shape: tuple[int, ...],
    keep: Sequence[int] | None,
    factor: float | Sequence[float] | None,
) -> tuple[str, tuple[int, ...]]:
    from medsr.degrade.kspace import kspace_keep_count

    if meas_shape != out_shape:
        if any(n % m for n, m in zip(out_shape, meas_shape, strict=True)):
            raise ConfigError(
                f"output {out_shape} is not an integer multiple of the input {meas_shape}"
            )
        return "low-resolution", meas_shape
    if keep is not None:
        counts = tuple(int(v) for v in keep)
    elif factor is not None:
        fac = (factor,) * len(out_shape) if isinstance(factor, int | float) else tuple(factor)
        if len(fac) != len(out_shape):
            raise ConfigError(f"k-space factor needs 1 or {len(out_shape)} values, got {factor!r}")
        counts = tuple(kspace_keep_count(n, factor=float(f)) for n, f in zip(out_shape, fac))
    else:
        raise ConfigError(
            "same-grid data consistency needs the k-space truncation of the input: pass its "
            "factor (--kspace-factor) or kept counts"
        )
    if len(counts) != len(out_shape) or any(
        not 1 <= m <= n for m, n in zip(counts, out_shape, strict=True)
    ):
        raise ConfigError(f"kept counts {counts} must lie in [1, N] for shape {out_shape}")
    return "same-grid", counts


def apply_data_consistency(
    output: np.ndarray,
    measured: np.ndarray,
    *,
    spatial_dims: int = 3,
    keep: Sequence[int] | None = None,
    factor: float | Sequence[float] | None = None,
) -> tuple[np.ndarray, ConsistencyReport]:
    """Replace the measured part of ``output``'s k-space by ``measured``'s.

    Args:
        output: Network output in the input's units; the last ``spatial_dims`` axes are spatial.
        measured: The input image: same grid (zero-filled) or low resolution (each output size a
            multiple of it).
        spatial_dims: Number of trailing spatial axes.
        keep: Same grid: kept frequencies per axis.
        factor: Same grid: truncation factor(s), converted with
            :func:`~medsr.degrade.kspace.kspace_keep_count` (ignored when ``keep`` is given).

    Returns:
        ``(consistent output (float32), report)``.

    Raises:
        ConfigError: Same-grid input without ``keep``/``factor``, or incompatible shapes.

    Shape:
        output: ``(..., *N)``; measured: ``(..., *M)`` with the same leading axes.
    """
    out = np.asarray(output)
    meas_img = np.asarray(measured)
    lead = out.ndim - spatial_dims
    out_shape = tuple(int(n) for n in out.shape[lead:])
    meas_shape = tuple(int(n) for n in meas_img.shape[lead:])
    if out.shape[:lead] != meas_img.shape[:lead] or len(meas_shape) != spatial_dims:
        raise ConfigError(f"output {out.shape} and input {meas_img.shape} do not match")
    mode, counts = measured_band(out_shape, meas_shape, keep, factor)
    fft_axes = tuple(range(lead, out.ndim))
    axes = _axes(out_shape, meas_shape, counts)
    meas = np.fft.fftn(meas_img.astype(np.float64), axes=fft_axes)
    spec = np.fft.fftn(out.astype(np.float64), axes=fft_axes)
    before = _error(spec, meas, axes, lead)
    idx_out = _sel([a.pos_out for a in axes])
    idx_meas = _sel([a.pos_meas for a in axes])
    spec[idx_out] = meas[idx_meas] / _outer([a.weight for a in axes], lead)
    del meas
    # Mirror of the measured set that is not measured itself (even M): conjugate partner.
    neg = [(-np.arange(a.n)) % a.n for a in axes]
    if any(not np.array_equal(a.band, a.band[p]) for a, p in zip(axes, neg, strict=True)):
        inside = _outer([a.band for a in axes], 0)
        mirror = _outer([a.band[p] for a, p in zip(axes, neg, strict=True)], 0) & ~inside
        flipped = np.conj(spec[_sel(neg)])
        spec[..., mirror] = flipped[..., mirror]
        del flipped
    result = np.fft.ifftn(spec, axes=fft_axes).real.astype(np.float32)
    del spec
    meas = np.fft.fftn(meas_img.astype(np.float64), axes=fft_axes)
    after = _error(np.fft.fftn(result.astype(np.float64), axes=fft_axes), meas, axes, lead)
    return result, ConsistencyReport(mode, counts, before, after)


def consistency_error(
    output: np.ndarray,
    measured: np.ndarray,
    *,
    spatial_dims: int = 3,
    keep: Sequence[int] | None = None,
    factor: float | Sequence[float] | None = None,
) -> float:
    """Relative consistency error ``||A(output) - y|| / ||y||`` (see the module docstring)."""
    out = np.asarray(output, dtype=np.float64)
    meas_img = np.asarray(measured, dtype=np.float64)
    lead = out.ndim - spatial_dims
    out_shape = tuple(int(n) for n in out.shape[lead:])
    meas_shape = tuple(int(n) for n in meas_img.shape[lead:])
    _, counts = _resolve(out_shape, meas_shape, keep, factor)
    fft_axes = tuple(range(lead, out.ndim))
    axes = _axes(out_shape, meas_shape, counts)
    return _error(np.fft.fftn(out, axes=fft_axes), np.fft.fftn(meas_img, axes=fft_axes), axes, lead)
