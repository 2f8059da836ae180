"""From ``data`` config to training loaders and fixed validation cases.

Validation cases are high-quality crops (2D: ``val_slices`` slices per held-out scan, evenly
spread over its foreground slices; 3D: one crop around the foreground centre) with a
low-quality input made once per case from a seed derived from ``(seed, case)``: the same in
every validation of the run and in every resumed process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medsr.baselines import run_baseline
from medsr.config.schema import ExperimentConfig, SourceConfig
from medsr.data.datasets import (
    PatchDataset,
    Subject,
    check_patch_fits,
    degrade_checked,
    load_scan,
    prepare_subject,
    to_network,
)
from medsr.data.intensity import IntensityNorm
from medsr.data.samplers import EpochSampler
from medsr.data.splits import split_items
from medsr.degrade import DegradationPipeline
from medsr.degrade.pipeline import in_plane_pixel, with_pixel_size
from medsr.errors import ConfigError

_VOLUME_TAG, _VAL_TAG, _STATE_TAG = 101, 202, 303


def intensity_of(cfg: ExperimentConfig) -> IntensityNorm:
    i = cfg.task.intensity
    return IntensityNorm(kind=i.kind, lo=i.lo, hi=i.hi, q=i.q)


def resolve_sources(cfg: ExperimentConfig) -> tuple[list[SourceConfig], list[SourceConfig]]:
    """Training and validation sources after the optional subject-level split.

    Raises:
        ConfigError: When a subject appears on both sides.
    """
    train, val = list(cfg.data.train), list(cfg.data.val)
    if cfg.data.split is not None:
        try:
            train, held = split_items(
                train,
                subject=lambda s: s.subject_id,
                val_fraction=cfg.data.split.val_fraction,
                seed=cfg.data.split.seed,
            )
        except ValueError as exc:
            raise ConfigError(f"data.split: {exc}") from None
        val = val + held
    both = {s.subject_id for s in train} & {s.subject_id for s in val}
    if both:
        raise ConfigError(f"subjects {sorted(both)} are in both training and validation data")
    return train, val


class SpacingPipeline:
    """The configured degradation stages.

    Stages whose function takes ``pixel_size`` (low-dose CT) and do not set it get the in-plane
    voxel size of the scan being degraded. With ``units="network"`` the stages see the volume in
    network units (normalised with the volume's state) and the result is mapped back, so noise
    levels are relative to each scan's intensity scale (MRI scans differ by orders of magnitude).
    """

    def __init__(
        self, stages: list[tuple[str, dict[str, Any]]], *, units: str, norm: IntensityNorm
    ) -> None:
        self.stages = stages
        self.units = units
        self.norm = norm
        self._cache: dict[float, Any] = {}

    def _pipeline(self, spacing: tuple[float, ...]) -> Any:

        key = in_plane_pixel(spacing)  # what with_pixel_size fills in
        if key not in self._cache:
            self._cache[key] = DegradationPipeline(with_pixel_size(self.stages, spacing))
        return self._cache[key]

    def __call__(
        self,
        x: np.ndarray,
        *,
        rng: np.random.Generator,
        spacing: tuple[float, ...],
        state: dict[str, float],
    ) -> np.ndarray:
        pipe = self._pipeline(spacing)
        if self.units == "scanner":
            return np.asarray(pipe(x, rng=rng))
        y = pipe(to_network(x, self.norm, state), rng=rng)
        return self.norm.inverse(np.asarray(y), state)


def degrader_of(cfg: ExperimentConfig) -> SpacingPipeline | None:
    """The configured degradation (see :class:`SpacingPipeline`), or None."""
    if cfg.data.degradation is None:
        return None
    deg = cfg.data.degradation
    return SpacingPipeline(
        [(s.name, dict(s.kwargs)) for s in deg.stages], units=deg.units, norm=intensity_of(cfg)
    )


def _subject(cfg: ExperimentConfig, src: SourceConfig) -> Subject:
    hq, lq = load_scan(
        src.scan,
        lq=src.lq,
        paired_ct=src.format == "paired_ct",
        modality=cfg.task.modality,
        attenuation=src.attenuation,
        slice_axis=src.slice_axis,
        slice_tolerance=src.slice_tolerance,
    )
    if src.zoom > 1:  # a finer-pixel copy: H and W refined by Keys cubic over the same field
        hq = run_baseline("cubic", hq, scale=(1, src.zoom, src.zoom))
    return prepare_subject(
        src.subject_id,
        hq,
        lq=lq if cfg.data.mode == "paired" else None,
        region=src.region,
        slice_axis=cfg.data.sampler.axis if cfg.task.spatial_dims == 2 else None,
        scale=cfg.task.scale,
        norm=intensity_of(cfg),
        fg_threshold=cfg.data.sampler.foreground_threshold,
        resize=None if cfg.data.resize is None else cfg.data.resize.size,
        square_crop=cfg.data.resize is not None and cfg.data.resize.square_crop,
    )


def build_subjects(
    cfg: ExperimentConfig, sources: list[SourceConfig], *, need_lq: bool
) -> list[Subject]:
    """Prepared subjects; with whole-volume degradation, their cached LQ realizations."""
    degrader = degrader_of(cfg)
    deg = cfg.data.degradation
    out = []
    for i, src in enumerate(sources):
        subj = _subject(cfg, src)
        # before the (slow) cached degradations, so a too-large crop fails at once
        check_patch_fits(subj, cfg.data.sampler.patch, cfg.task.spatial_dims)
        if need_lq and not subj.lq and degrader is not None and deg and deg.level == "volume":
            for k in range(deg.realizations):
                rng = np.random.default_rng([cfg.seed, _VOLUME_TAG, i, k])
                subj.lq.append(_degrade_whole(cfg, degrader, subj, rng))
        if need_lq:  # subjects that supply inputs (not the targets of unpaired training)
            _use_input_state(cfg, subj, degrader, tag=i)
        out.append(subj)
    return out


def _degrade_whole(
    cfg: ExperimentConfig, degrader: SpacingPipeline, subj: Subject, rng: np.random.Generator
) -> np.ndarray:
    """One realization of the configured degradation of the whole subject."""
    return degrade_checked(
        degrader,
        subj.hq,
        rng=rng,
        spacing=subj.spacing,
        state=subj.state,
        scale=cfg.task.scale,
        what=subj.name,
    )


def _use_input_state(
    cfg: ExperimentConfig, subj: Subject, degrader: SpacingPipeline | None, *, tag: int
) -> None:
    """Normalise a subject by its low-quality input, as inference does.

    ``medsr enhance`` only has the input, so per-volume intensity states (``percentile``,
    ``minmax``) are computed on the low-quality volume: the first cached realization, else one
    whole-volume degradation made for this purpose. Fixed windows (``hu-window``) are unaffected.
    """
    norm = intensity_of(cfg)
    if norm.kind == "hu-window":
        return
    if subj.lq:
        lq = subj.lq[0]
    elif degrader is not None:
        lq = _degrade_whole(cfg, degrader, subj, np.random.default_rng([cfg.seed, _STATE_TAG, tag]))
    else:
        return
    subj.state = norm.forward(lq)[1]


def build_dataset(cfg: ExperimentConfig, sources: list[SourceConfig]) -> PatchDataset:
    """The training :class:`~medsr.data.datasets.PatchDataset`."""
    unpaired = cfg.data.mode == "unpaired"
    subjects = build_subjects(cfg, sources, need_lq=not unpaired)
    lq_subjects = build_subjects(cfg, cfg.data.train_lq, need_lq=True) if unpaired else None
    on_sample = cfg.data.degradation is not None and cfg.data.degradation.level == "sample"
    return PatchDataset(
        subjects=subjects,
        lq_subjects=lq_subjects,
        norm=intensity_of(cfg),
        spatial_dims=cfg.task.spatial_dims,
        scale=cfg.task.scale,
        patch=cfg.data.sampler.patch,
        degrader=degrader_of(cfg) if on_sample else None,
        p_fg=cfg.data.sampler.foreground,
        flip=cfg.data.augment.flip,
        rot90=cfg.data.augment.rot90,
        seed=cfg.seed,
        length=cfg.data.sampler.samples_per_epoch,
    )


def build_loader(
    cfg: ExperimentConfig,
    dataset: PatchDataset,
    *,
    rank: int,
    world_size: int,
    start_batch: int,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader[dict[str, torch.Tensor]]:
    """An endless loader over the dataset from global batch ``start_batch`` on (this rank's
    shard); workers get their seeds from a generator seeded by the config, not the global RNG."""
    sampler = EpochSampler(
        length=len(dataset),
        global_batch=cfg.data.batch_size,
        seed=cfg.seed,
        rank=rank,
        world_size=world_size,
        start_batch=start_batch,
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=sampler.local_batch,
        sampler=sampler,
        num_workers=cfg.data.workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(cfg.seed),
        persistent_workers=False,
    )


@dataclass
class ValCase:
    """One validation case in scanner units: ``hq`` ``(D, H, W)`` and ``lq`` on the LQ grid."""

    name: str
    hq: np.ndarray
    lq: np.ndarray
    state: dict[str, float]


def build_val_cases(cfg: ExperimentConfig, sources: list[SourceConfig]) -> list[ValCase]:
    """Fixed validation cases (module docstring)."""
    degrader = degrader_of(cfg)
    scale = tuple(cfg.task.scale)
    cases: list[ValCase] = []
    for i, src in enumerate(sources):
        subj = _subject(cfg, src)
        shape = subj.hq.shape[1:]
        centre = _fg_centre(subj, shape)
        regions: list[tuple[str, tuple[slice, ...]]] = []
        if cfg.task.spatial_dims == 2:
            crop = cfg.data.val_crop or list(shape[1:])
            for z in _val_slices(subj, cfg.data.val_slices):
                win = _window(centre[1:], crop, shape[1:], scale[1:])
                regions.append((f"{subj.name}:z{z}", (slice(z, z + 1), *win)))
        else:
            crop = cfg.data.val_crop or list(shape)
            regions.append((subj.name, _window(centre, crop, shape, scale)))
        whole_lq = subj.lq[0] if subj.lq else None
        if (
            whole_lq is None
            and degrader is not None
            and cfg.task.spatial_dims == 3
            and _on_volume(cfg)
        ):
            rng = np.random.default_rng([cfg.seed, _VAL_TAG, i, 0])
            whole_lq = _degrade_whole(cfg, degrader, subj, rng)
        if whole_lq is not None:
            subj.lq = [whole_lq]
        _use_input_state(cfg, subj, degrader, tag=10_000 + i)
        for j, (name, win) in enumerate(regions):
            hq = subj.hq[(slice(None), *win)]
            if whole_lq is not None:
                lq = whole_lq[(slice(None), *_scaled(win, scale))]
            elif degrader is None:
                raise ConfigError(f"{subj.name}: no paired LQ scan and no degradation")
            else:
                rng = np.random.default_rng([cfg.seed, _VAL_TAG, i, j + 1])
                if cfg.task.spatial_dims == 2:  # the whole slice is degraded, then cropped
                    full = subj.hq[:, win[0]]
                    lq = degrade_checked(
                        degrader,
                        full,
                        rng=rng,
                        spacing=subj.spacing,
                        state=subj.state,
                        scale=scale,
                        what=name,
                    )
                    lq = lq[(slice(None), slice(None), *_scaled(win[1:], scale[1:]))]
                else:
                    lq = degrade_checked(
                        degrader,
                        hq,
                        rng=rng,
                        spacing=subj.spacing,
                        state=subj.state,
                        scale=scale,
                        what=name,
                    )
            cases.append(ValCase(name, np.array(hq[0]), np.array(lq[0]), dict(subj.state)))
    return cases


def _scaled(win: tuple[slice, ...], scale: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(w.start // f, w.stop // f) for w, f in zip(win, scale))


def _on_volume(cfg: ExperimentConfig) -> bool:
    return cfg.data.degradation is not None and cfg.data.degradation.level == "volume"


def _fg_centre(subj: Subject, shape: tuple[int, ...]) -> tuple[int, ...]:
    if subj.fg.size == 0:
        return tuple(n // 2 for n in shape)
    coords = np.unravel_index(subj.fg, shape)
    return tuple(int((c.min() + c.max()) // 2) for c in coords)


def _val_slices(subj: Subject, n: int) -> list[int]:
    depth = subj.hq.shape[1]
    if subj.fg.size == 0:
        counts = np.ones(depth)
    else:
        plane = subj.hq.shape[2] * subj.hq.shape[3]
        counts = np.bincount(subj.fg // plane, minlength=depth).astype(float)
    eligible = np.flatnonzero(counts >= 0.5 * counts.max())
    picks = np.linspace(0, eligible.size - 1, num=min(n, eligible.size)).round().astype(int)
    return sorted({int(eligible[p]) for p in picks})


def _window(
    centre: tuple[int, ...], crop: list[int], shape: tuple[int, ...], scale: tuple[int, ...]
) -> tuple[slice, ...]:
    out = []
    for c, p, n, s in zip(centre, crop, shape, scale):
        p = min(p, n - n % s)
        start = min(max(c - p // 2, 0), n - p)
        start -= start % s
        out.append(slice(start, start + p))
    return tuple(out)
