"""Super-resolved copies of brain scans with their tissue labels, as a segmentation training set
(``medsr augment``; issue 15).

The DISGAN and 3-player GAN authors train segmentation networks on real T1 scans plus SR outputs
(OHBM 2022, MIDL 2022). This writes such a set. For each scan:

* **simulated low resolution** (the default): the scan is the high-resolution truth. It is
  centre-cropped to a multiple of the model's scale, degraded with the degradation recorded in
  the model's checkpoint (what ``medsr degrade --like MODEL`` runs; seed ``seed + i`` for the
  ``i``-th scan) and super-resolved by the model. The labels are the tissue classes of the
  high-resolution scan (:func:`medsr.metrics.tissue_dice.tissue_labels`: 0 outside the brain,
  1 CSF, 2 GM, 3 WM; a 3-class intensity mixture with a Potts MRF, fitted on the scan inside its
  mask: ``masks[i]``, else the scan's foreground, so give skull-stripped scans or brain masks).
  Both the SR volume and the high-resolution scan are written, on the same grid, with the labels.
* **real low resolution** (``simulate=False``): the scan is the model's input; the SR volume is
  written, with ``labels[i]`` (a label file on the SR grid) when given.

The folder is written atomically (all or nothing): ``images/<id>_sr.nii.gz``,
``images/<id>_hr.nii.gz``, ``labels/<id>.nii.gz`` (uint8) and ``dataset.json``, a manifest in the
MONAI / Medical Segmentation Decathlon style (``training``: ``{"image", "label"}`` pairs, paths
relative to the folder) that also records the model, degradation, seeds and versions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsr._version import __version__
from medsr.degrade.apply import degrade_volume
from medsr.degrade.pipeline import child_generators
from medsr.degrade.recorded import kinds_of_stages, recorded_degradation
from medsr.demo_cases import crop_to_multiple
from medsr.errors import ConfigError, InputError, MedsrError
from medsr.infer.engines import load_engine
from medsr.infer.predictor import Predictor
from medsr.io import read_volume
from medsr.io.atomic import atomic_dir, write_text_atomic
from medsr.io.dispatch import READ_FORMATS, extension
from medsr.io.memory import memory_plan
from medsr.io.nifti import write_nifti
from medsr.memory import augment_plan
from medsr.metrics.masks import foreground_mask
from medsr.metrics.tissue_dice import tissue_labels
from medsr.nn.sliding_window import balanced_windows
from medsr.volume import Volume

#: Label values written by :func:`augment_scans` (T1 contrast).
LABELS: dict[str, int] = {"background": 0, "csf": 1, "gm": 2, "wm": 3}


@dataclass(frozen=True)
class AugmentOptions:
    """Options of :func:`augment_scans` (see ``medsr augment --help``)."""

    simulate: bool = True
    masks: Sequence[str | os.PathLike[str]] | None = None
    labels: Sequence[str | os.PathLike[str]] | None = None
    seed: int = 0
    window: int | tuple[int, ...] | None = None
    batch_size: int = 1
    device: str | None = None
    force: bool = False
    slice_tolerance: float | None = None
    overwrite: bool = False


def scan_ids(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """File names without the extension :func:`~medsr.io.read_volume` reads them by; repeated
    names get ``-1``, ``-2``... suffixes."""
    stems = []
    for p in paths:
        name, ext = Path(p).name, extension(p)
        stems.append((name[: -len(ext)] if ext in READ_FORMATS else name) or "scan")
    seen: dict[str, int] = {}
    out = []
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
        out.append(s if stems.count(s) == 1 else f"{s}-{seen[s]}")
    return out


def _check_lists(scans: Sequence[Any], opt: AugmentOptions) -> None:
    if not scans:
        raise ConfigError("give at least one scan")
    for flag, files in (("--mask", opt.masks), ("--labels", opt.labels)):
        if files is not None and len(files) != len(scans):
            raise ConfigError(
                f"got {len(scans)} scans but {len(files)} {flag} files; pass one per scan, "
                "in the same order"
            )
    if opt.simulate and opt.labels is not None:
        raise ConfigError(
            "--labels is for real low-resolution scans (--no-simulate); with simulated low "
            "resolution the labels come from the high-resolution scans"
        )
    if not opt.simulate and opt.masks is not None:
        raise ConfigError(
            "--mask restricts the labels of simulated scans; drop it with --no-simulate"
        )


def augment_scans(
    scans: Sequence[str | os.PathLike[str]],
    *,
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: AugmentOptions | None = None,
) -> dict[str, Any]:
    """Write the training set of the module docstring into ``out``; returns its manifest.

    Raises:
        ConfigError: Mismatched file lists or options, a model whose degradation cannot be
            reproduced on a volume (simulated mode).
        InputError: An unreadable scan, a mask or label file off its scan's grid, an empty mask.
        MedsrError: ``out`` exists and ``overwrite`` is off, or the model produced NaN/Inf.
    """

    opt = options or AugmentOptions()
    _check_lists(scans, opt)
    steps, checkpoint = _degradation(model) if opt.simulate else ([], str(model))
    with atomic_dir(out, overwrite=opt.overwrite) as tmp:
        return _write_set(scans, model=model, tmp=tmp, opt=opt, steps=steps, checkpoint=checkpoint)


def _degradation(model: str | os.PathLike[str]) -> tuple[list[tuple[str, dict[str, Any]]], str]:

    recorded, checkpoint = recorded_degradation(str(model))
    return kinds_of_stages(recorded, model=str(model)), checkpoint


def _write_set(
    scans: Sequence[str | os.PathLike[str]],
    *,
    model: str | os.PathLike[str],
    tmp: Path,
    opt: AugmentOptions,
    steps: list[tuple[str, dict[str, Any]]],
    checkpoint: str,
) -> dict[str, Any]:

    net, spec = load_engine(str(model), device=opt.device)
    plan = augment_plan(
        name=spec.name, spatial_dims=spec.spatial_dims, scale=spec.scale,
        kinds=[kind for kind, _ in steps], simulate=opt.simulate, window=opt.window,
    )  # fmt: skip
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    training: list[dict[str, Any]] = []
    for i, (scan, sid) in enumerate(zip(scans, scan_ids(scans), strict=True)):
        with memory_plan(plan):  # a scan whose set cannot be made in memory is refused unread
            vol = read_volume(scan, slice_tolerance=opt.slice_tolerance)
        hr: Volume | None
        labels: Volume | None
        if opt.simulate:
            hr, low, labels = _simulated(vol, i, scan=scan, opt=opt, steps=steps, scale=spec.scale)
        else:
            hr, low = None, vol
            labels = _given_labels(opt.labels[i], scan) if opt.labels is not None else None
        window, overlap = _tiling(spec, low.shape, opt.window)
        predictor = Predictor(
            net, spec=spec, window=window, overlap=overlap, batch_size=opt.batch_size,
            device=opt.device, axis=0,
        )  # fmt: skip
        sr = predictor(low, force=opt.force)
        _check_sr(sr, hr, labels, scan=scan)
        entry: dict[str, Any] = {"id": sid, "source": str(scan), "seed": opt.seed + i}
        write_nifti(sr, tmp / "images" / f"{sid}_sr.nii.gz", description=f"medsr augment {sid}")
        label_rel = None
        if labels is not None:
            label_rel = f"labels/{sid}.nii.gz"
            write_nifti(labels, tmp / label_rel, description="medsr tissue labels", dtype=np.uint8)
        training.append(
            {**entry, "kind": "sr", "image": f"images/{sid}_sr.nii.gz", "label": label_rel}
        )
        if hr is not None:
            write_nifti(hr, tmp / "images" / f"{sid}_hr.nii.gz", description=f"medsr augment {sid}")
            training.append(
                {**entry, "kind": "real", "image": f"images/{sid}_hr.nii.gz", "label": label_rel}
            )
    manifest = {
        "command": "medsr augment",
        "medsr_version": __version__,
        "model": str(model),
        "checkpoint": checkpoint,
        "simulate": opt.simulate,
        "degradation": [{"kind": k, "parameters": p} for k, p in steps],
        "labels": (
            "tissue classes of the high-resolution scan inside its mask "
            "(medsr.metrics.tissue_dice.tissue_labels)" if opt.simulate else "given (--labels)"
        ),
        "label_values": LABELS,
        "numTraining": len(training),
        "training": training,
    }  # fmt: skip
    import json

    write_text_atomic(tmp / "dataset.json", json.dumps(manifest, indent=2) + "\n", overwrite=True)
    return manifest


def _tiling(
    spec: Any, shape: tuple[int, ...], window: int | tuple[int, ...] | None
) -> tuple[Any, Any]:
    """The window and overlap: given, else the Predictor's for a 2D model and balanced windows of
    <= 48^3 input voxels for a 3D model that upsamples (its output-size dense blocks would need
    several GB per 64^3 window)."""

    if window is not None or spec.spatial_dims != 3 or max(spec.scale) == 1:
        return window, 0.25
    return balanced_windows(shape, max_window=48, min_overlap=8)


def _simulated(
    vol: Volume,
    i: int,
    *,
    scan: str | os.PathLike[str],
    opt: AugmentOptions,
    steps: list[tuple[str, dict[str, Any]]],
    scale: tuple[int, int, int],
) -> tuple[Volume, Volume, Volume]:
    """``(high-resolution scan cropped to the scale, its degraded copy, its tissue labels)``."""

    if opt.masks is not None:
        mask_vol = read_volume(opt.masks[i], slice_tolerance=opt.slice_tolerance)
        if mask_vol.shape != vol.shape:
            raise InputError(
                opt.masks[i], f"mask shape {mask_vol.shape} differs from its scan's {vol.shape}"
            )
        mask_vol = crop_to_multiple(mask_vol, scale)
    hr = crop_to_multiple(vol, scale)
    mask = mask_vol.data != 0 if opt.masks is not None else foreground_mask(hr.data)
    if not mask.any():
        raise InputError(opt.masks[i] if opt.masks is not None else scan, "the brain mask is empty")
    try:
        labels = tissue_labels(hr.data, mask)
    except ValueError as exc:
        raise InputError(scan, f"cannot label its tissue: {exc}") from None
    rngs = child_generators(np.random.default_rng(opt.seed + i), len(steps))
    low = hr
    for (kind, params), rng in zip(steps, rngs, strict=True):
        low = degrade_volume(low, kind=kind, rng=rng, params=params)
    return hr, low, hr.with_array(labels[None].astype(np.float32))


def _given_labels(path: str | os.PathLike[str], scan: str | os.PathLike[str]) -> Volume:

    labels = read_volume(path)
    values = labels.array
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.rint(values)):
        raise InputError(path, f"labels of {scan} must be non-negative integers")
    return labels


def _check_sr(sr: Volume, hr: Volume | None, labels: Volume | None, *, scan: Any) -> None:

    if not np.all(np.isfinite(sr.array)):
        raise MedsrError(f"{scan}: the model produced NaN/Inf voxels; nothing was written")
    for name, other in (("high-resolution scan", hr), ("labels", labels)):
        if other is not None and other.shape != sr.shape:
            raise InputError(
                scan, f"its SR output {sr.shape} is not on the grid of its {name} {other.shape}"
            )
