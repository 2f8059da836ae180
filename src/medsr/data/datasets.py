"""Training datasets: paired scans, degrade-on-the-fly from high-quality scans, unpaired domains.

A :class:`Subject` is one scan prepared for sampling: its high-quality array in scanner units
(cropped to a multiple of the scale; for 2D tasks the slice axis moved to the front), its
low-quality realizations (paired scans or cached whole-volume degradations), its intensity
normalisation state and its foreground voxels. Decoded scans are cached in memory per process
(:func:`load_scan`), so DataLoader workers forked afterwards share them.

:class:`PatchDataset` maps a key ``(epoch, index)`` to one training sample; every random choice
of that sample (subject, crop, realization, on-the-fly degradation, augmentation) comes from a
generator seeded by ``(seed, epoch, index)``, so a sample is the same whichever worker, rank or
resumed process draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from medsr.data import catalogue
from medsr.data.intensity import IntensityNorm
from medsr.data.samplers import augment, crop_start, foreground_index
from medsr.errors import ConfigError
from medsr.io import read_paired_ct, read_volume
from medsr.volume import Volume

_SCANS: dict[tuple[Any, ...], tuple[Volume, Volume | None]] = {}
#: ``fn(x, *, rng, spacing, state) -> x_lq`` on scanner units: a degradation that may use the voxel
#: size ``(sd, sh, sw)`` and the volume's intensity-normalisation state.
Degrader = Callable[..., np.ndarray]


def load_scan(
    scan: str,
    *,
    lq: str = "",
    paired_ct: bool = False,
    modality: str | None = None,
    attenuation: bool = False,
    slice_axis: int = 0,
    slice_tolerance: float | None = None,
) -> tuple[Volume, Volume | None]:
    """Decode a scan (catalogue name or file) and its paired low-quality scan, cached in memory.

    Args:
        scan: A :mod:`medsr.data.catalogue` name, or a file / DICOM folder.
        lq: Path of the paired low-quality file ("" for none).
        paired_ct: ``scan`` is a ``{'f_nd', 'f_qd'}`` file holding both.
        modality: Modality for readers that cannot tell.
        attenuation: The paired file holds linear attenuation (1/mm), converted to HU.
        slice_axis: Axis the paired file's 3D arrays stack their slices along.
        slice_tolerance: DICOM series: accepted deviation (mm) of a slice gap from the mean
            spacing (None: what the rounding of the positions explains).

    Returns:
        ``(high_quality, low_quality_or_None)``.

    Raises:
        MissingDependencyError: For a catalogue scan that is not installed.
        InputError: For a bad file.
        ConfigError: For a name that is neither a catalogue scan nor an existing path.
    """
    key = (scan, lq, paired_ct, modality, attenuation, slice_axis, slice_tolerance)
    if key not in _SCANS:
        _SCANS[key] = _decode(
            scan,
            lq=lq,
            paired_ct=paired_ct,
            modality=modality,
            attenuation=attenuation,
            slice_axis=slice_axis,
            slice_tolerance=slice_tolerance,
        )
    return _SCANS[key]


def _decode(
    scan: str,
    *,
    lq: str,
    paired_ct: bool,
    modality: str | None,
    attenuation: bool = False,
    slice_axis: int = 0,
    slice_tolerance: float | None = None,
) -> tuple[Volume, Volume | None]:

    if paired_ct:
        return read_paired_ct(scan, attenuation=attenuation, slice_axis=slice_axis)
    names = {e.name for e in catalogue.entries()}
    if scan in names:
        hq = catalogue.load(scan)
    elif Path(scan).exists():
        hq = read_volume(scan, modality=modality, slice_tolerance=slice_tolerance)
    else:
        raise ConfigError(
            f"data source {scan!r} is neither a catalogue scan (see `medsr data list`) nor a file"
        )
    lq_volume = read_volume(lq, modality=modality, slice_tolerance=slice_tolerance) if lq else None
    return hq, lq_volume


def to_network(x: np.ndarray, norm: IntensityNorm, state: dict[str, float]) -> np.ndarray:
    """Scanner units -> network units with a given per-volume state
    (:meth:`IntensityNorm.apply`, the one mapping)."""
    return norm.apply(x, state)


@dataclass
class Subject:
    """One scan prepared for sampling (see the module docstring).

    Attributes:
        name: Subject id.
        hq: ``(1, D, H, W)`` scanner units.
        lq: Low-quality realizations ``(1, D/sd, H/sh, W/sw)`` in scanner units (may be empty).
        state: Intensity normalisation state (computed on ``hq``).
        fg: Flat foreground indices into ``hq[0]``.
        spacing: Voxel size ``(sd, sh, sw)`` of ``hq`` (after the reorientation).
    """

    name: str
    hq: np.ndarray
    lq: list[np.ndarray] = field(default_factory=list)
    state: dict[str, float] = field(default_factory=dict)
    fg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)


def prepare_subject(
    name: str,
    hq: Volume,
    *,
    lq: Volume | None,
    region: Sequence[Sequence[int]] | None,
    slice_axis: int | None,
    scale: Sequence[int],
    norm: IntensityNorm,
    fg_threshold: float,
    resize: Sequence[int] | None = None,
    square_crop: bool = False,
) -> Subject:
    """Crop, reorient (2D: ``slice_axis`` to the front), optionally resample every slice
    (``resize``, see :func:`resize_slices`), trim to the scale and measure a scan.

    Raises:
        ConfigError: For multi-channel scans, an empty region, a paired scan whose shape does
            not match the high-quality shape divided by the scale, or ``resize`` with a paired
            scan.
    """
    if hq.channels != 1:
        raise ConfigError(f"{name}: the trainer takes single-channel scans, got {hq.channels}")
    a = _crop(hq.array, region, name)
    b = None if lq is None else _crop(lq.array, _lq_region(region, scale), name)
    spacing = list(hq.spacing)
    if slice_axis:
        a = np.moveaxis(a, 1 + slice_axis, 1)
        b = None if b is None else np.moveaxis(b, 1 + slice_axis, 1)
        spacing.insert(0, spacing.pop(slice_axis))
    if resize is not None:
        if b is not None:
            raise ConfigError(f"{name}: data.resize cannot resample a paired low-quality scan")
        a, spacing[1:] = resize_slices(a, resize, square_crop=square_crop, spacing=spacing[1:])
    trim = tuple(slice(0, n - n % s) for n, s in zip(a.shape[1:], scale))
    a = np.ascontiguousarray(a[(slice(None), *trim)], dtype=np.float32)
    if min(a.shape[1:]) < 1:
        raise ConfigError(f"{name}: nothing is left after trimming to a multiple of {list(scale)}")
    _, state = norm.forward(a)
    lqs = []
    if b is not None:
        want = tuple(n // s for n, s in zip(a.shape[1:], scale))
        b = np.ascontiguousarray(b[(slice(None), *(slice(0, w) for w in want))], dtype=np.float32)
        if b.shape[1:] != want:
            raise ConfigError(f"{name}: paired LQ shape {b.shape[1:]} != HQ shape / scale = {want}")
        lqs.append(b)
    fg = foreground_index(to_network(a[0], norm, state), threshold=fg_threshold)
    sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    return Subject(name=name, hq=a, lq=lqs, state=state, fg=fg, spacing=sp)


def resize_slices(
    a: np.ndarray, size: Sequence[int], *, square_crop: bool, spacing: Sequence[float]
) -> tuple[np.ndarray, list[float]]:
    """Crop every ``(H, W)`` slice to a centred square of side ``min(H, W)`` (``square_crop``)
    and resample it to ``size`` with antialiased bicubic interpolation (the preprocessing of the
    x3 SRGAN of the brain-MRI / chest X-ray report).

    Args:
        a: ``(C, D, H, W)`` array; the slices are its last two axes.
        size: Output ``(H, W)``.
        square_crop: Crop to the centred square first (odd leftovers go to the end).
        spacing: In-plane voxel size ``(sh, sw)``.

    Returns:
        The resampled float32 array ``(C, D, *size)`` and its in-plane voxel size (the field of
        view kept after the crop is spread over the new grid).

    Shape:
        a: ``(C, D, H, W)``; output: ``(C, D, size[0], size[1])``.
    """
    import torch.nn.functional as F

    h, w = a.shape[-2:]
    if square_crop:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        a = a[..., top : top + side, left : left + side]
        h = w = side
    out_h, out_w = (int(n) for n in size)
    flat = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).reshape(-1, 1, h, w)
    if (h, w) != (out_h, out_w):
        flat = F.interpolate(
            flat, size=(out_h, out_w), mode="bicubic", align_corners=False, antialias=True
        )
    out = flat.reshape(*a.shape[:-2], out_h, out_w).numpy()
    return out, [float(spacing[0]) * h / out_h, float(spacing[1]) * w / out_w]


def _crop(a: np.ndarray, region: Sequence[Sequence[int]] | None, name: str) -> np.ndarray:
    if region is None:
        return a
    window = tuple(slice(int(lo), min(int(hi), n)) for (lo, hi), n in zip(region, a.shape[1:]))
    out = a[(slice(None), *window)]
    if min(out.shape[1:]) < 1:
        raise ConfigError(f"{name}: region {list(region)} is outside the scan shape {a.shape[1:]}")
    return out


def _lq_region(
    region: Sequence[Sequence[int]] | None, scale: Sequence[int]
) -> list[list[int]] | None:
    if region is None:
        return None
    return [[lo // s, hi // s] for (lo, hi), s in zip(region, scale)]


def degrade_checked(
    degrader: Degrader,
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spacing: Sequence[float],
    state: dict[str, float],
    scale: Sequence[int],
    what: str,
) -> np.ndarray:
    """Run a degradation and check that the output grid is the input grid divided by the scale.

    Raises:
        ConfigError: When the shapes do not match (e.g. a k-space truncation that keeps the grid
            while the task's scale is not 1).
    """
    out = np.asarray(degrader(x, rng=rng, spacing=tuple(spacing), state=state), dtype=np.float32)
    want = (*x.shape[:-3], *(n // s for n, s in zip(x.shape[-3:], scale)))
    if out.shape != want:
        raise ConfigError(
            f"{what}: the degradation turned shape {x.shape} into {out.shape}, but the task's "
            f"scale {list(scale)} needs {want}; check the stages' factors / keep_shape"
        )
    return out


def check_patch_fits(subject: Subject, patch: Sequence[int], spatial_dims: int) -> None:
    """Refuse a training crop larger than the subject (2D crops are single slices).

    Raises:
        ConfigError: Naming the subject, the crop and the scan's shape.
    """
    crop = (1, *patch) if spatial_dims == 2 else tuple(patch)
    shape = subject.hq.shape[1:]
    if any(p > n for p, n in zip(crop, shape)):
        raise ConfigError(f"{subject.name}: patch {list(crop)} is larger than the scan {shape}")


class PatchDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Training crops ``{"x_lq", "x_hq"}`` in network units (module docstring).

    Args:
        subjects: Prepared subjects of the high-quality domain.
        lq_subjects: Prepared subjects of the low-quality domain (unpaired mode), else None.
        norm: Intensity normalisation.
        spatial_dims: 2 (crops are single slices) or 3.
        scale: Per-axis scale ``(sd, sh, sw)``.
        patch: High-quality crop size (``spatial_dims`` values).
        degrader: ``fn(x, rng=..., spacing=..., state=...)`` applied to every crop when the subjects carry no cached
            low-quality realization; None otherwise.
        p_fg: Probability of a foreground-centred crop.
        flip: Random flips.
        rot90: Random quarter turns in the last two axes.
        seed: Base seed.
        length: Keys per epoch.

    Raises:
        ConfigError: When a crop does not fit a subject, or neither cached realizations nor a
            degrader are available.

    Shape:
        Item: ``x_lq`` ``(1, *patch / scale)`` and ``x_hq`` ``(1, *patch)``.
    """

    def __init__(
        self,
        *,
        subjects: Sequence[Subject],
        lq_subjects: Sequence[Subject] | None = None,
        norm: IntensityNorm,
        spatial_dims: Literal[2, 3],
        scale: Sequence[int],
        patch: Sequence[int],
        degrader: Degrader | None,
        p_fg: float,
        flip: bool,
        rot90: bool,
        seed: int,
        length: int,
    ) -> None:
        self.subjects = list(subjects)
        self.lq_subjects = None if lq_subjects is None else list(lq_subjects)
        self.norm = norm
        self.spatial_dims = spatial_dims
        self.scale = tuple(int(s) for s in scale)
        self.patch = (1, *patch) if spatial_dims == 2 else tuple(patch)
        self.degrader = degrader
        self.p_fg, self.flip, self.rot90 = p_fg, flip, rot90
        self.seed, self.length = seed, length
        for s in self.subjects + (self.lq_subjects or []):
            check_patch_fits(s, patch, spatial_dims)
        for s in self.lq_subjects if self.lq_subjects is not None else self.subjects:
            if not s.lq and degrader is None:
                raise ConfigError(f"{s.name}: no paired low-quality scan and no degradation")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, int(key))
        rng = np.random.default_rng([self.seed, epoch, index, 0])
        unpaired = self.lq_subjects is not None
        x_lq, x_hq = self._pair(self.subjects, rng, want_lq=not unpaired)
        if self.lq_subjects is not None:
            lq_rng = np.random.default_rng([self.seed, epoch, index, 1])
            x_lq, _ = self._pair(self.lq_subjects, lq_rng, want_lq=True)
        return {"x_lq": _tensor(x_lq, self.spatial_dims), "x_hq": _tensor(x_hq, self.spatial_dims)}

    def _pair(
        self, subjects: Sequence[Subject], rng: np.random.Generator, *, want_lq: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        subj = subjects[int(rng.integers(len(subjects)))]
        k = int(rng.integers(max(1, len(subj.lq))))
        start = crop_start(
            rng,
            shape=subj.hq.shape[1:],
            patch=self.patch,
            align=self.scale,
            fg_index=subj.fg,
            p_fg=self.p_fg,
        )
        hq = subj.hq[(slice(None), *(slice(s, s + p) for s, p in zip(start, self.patch)))]
        child = np.random.default_rng(rng.integers(2**63))
        if not want_lq:
            lq = hq[(slice(None), *(slice(0, p // f) for p, f in zip(self.patch, self.scale)))]
        elif subj.lq:
            lq_start = [s // f for s, f in zip(start, self.scale)]
            lq_patch = [p // f for p, f in zip(self.patch, self.scale)]
            window = tuple(slice(s, s + p) for s, p in zip(lq_start, lq_patch))
            lq = subj.lq[k][(slice(None), *window)]
        else:
            assert self.degrader is not None
            lq = degrade_checked(
                self.degrader,
                hq,
                rng=child,
                spacing=subj.spacing,
                state=subj.state,
                scale=self.scale,
                what=subj.name,
            )
        # the bound inference applies (CT: HU below -3072 raised to it, metal clipped), so the
        # network trains on exactly what `medsr enhance` will show it
        lq = self.norm.clip_for_network(to_network(lq, self.norm, subj.state))
        hq = to_network(hq, self.norm, subj.state)
        lq, hq = augment(rng, [lq, hq], spatial_dims=3, flip=self.flip, rot90=self.rot90)
        return lq, hq


def _tensor(a: np.ndarray, spatial_dims: int) -> torch.Tensor:
    if spatial_dims == 2:
        a = a[:, 0]
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
