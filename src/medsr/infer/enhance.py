"""``medsr enhance`` as a library function: read, enhance, (data consistency), write with a record.

Every output is written atomically together with its JSON sidecar (both or neither). Existing
outputs are refused before any work unless ``overwrite``, and so are outputs another run is
writing (each output is claimed for the whole run: :func:`medsr.io.atomic.claim_outputs`). A
result with NaN/Inf voxels is refused before it is written. Scans are processed in order; on an
error the outputs already written stay complete and the error is raised (one line, exit 2 in the
CLI).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsr._version import __version__
from medsr.artifact.checkpoint import save_checkpoint
from medsr.artifact.spec import sha256_file
from medsr.artifact.zoo import resolve_model
from medsr.degrade.kspace_consistency import apply_data_consistency, measured_band
from medsr.errors import ConfigError, MedsrError
from medsr.infer.adapt import AdaptOptions
from medsr.infer.engines import load_engine
from medsr.infer.jobs import Job, plan
from medsr.infer.plane import chosen_plane
from medsr.infer.predictor import ModalityWarning, Predictor
from medsr.io import read_volume
from medsr.io.atomic import atomic_dir, atomic_path, claim_outputs
from medsr.io.dispatch import extension, write_image_file
from medsr.io.memory import memory_plan
from medsr.io.sidecar import input_geometry, output_geometry, write_json_sidecar
from medsr.memory import enhance_plan
from medsr.volume import Volume


@dataclass
class EnhanceOptions:
    """Options of :func:`enhance_files` (see ``medsr enhance --help``).

    ``adapt > 0`` fine-tunes a copy of the model on each scan first (see
    :mod:`medsr.infer.adapt`; ``adapt_lr``, ``adapt_loss``, ``seed``, ``threads`` and
    ``progress`` are its options) and ``save_adapted`` writes that copy as a checkpoint (one input
    only).
    """

    engine: str = "torch"
    axis: int | None = None  # 2D models: None runs them in the acquired plane (infer/plane.py)
    window: int | tuple[int, ...] | None = None
    overlap: float = 0.25
    blend: str = "gaussian"
    exact: bool = False
    batch_size: int = 4
    device: str | None = None
    bf16: bool = False
    accumulate: str = "float64"
    data_consistency: bool = False
    kspace_factor: float | tuple[float, ...] | None = None
    force: bool = False
    dicom_out: bool = False
    modality: str | None = None
    slice_tolerance: float | None = None
    overwrite: bool = False
    gan_weight: float | None = None
    self_ensemble: bool = False
    adapt: int = 0
    adapt_lr: float | None = None
    adapt_loss: str = "auto"
    seed: int = 0
    threads: int = 2
    save_adapted: str | os.PathLike[str] | None = None
    progress: bool | None = None


def _write_image(volume: Volume, tmp: Path, ext: str, description: str) -> None:

    depth = volume.meta.get("bit_depth")  # PNG/JPG input: keep its integer scale
    bits = 16 if depth is not None and int(depth) > 8 else 8
    span = None if depth is None else (0.0, float(2**bits - 1))
    write_image_file(volume, tmp, ext, description=description, png_bits=bits, png_range=span)


def _output_geometry(result: Volume, output: Path) -> dict[str, Any]:
    """Where the output's voxels are, in (D, H, W) and in the written file's order
    (:func:`medsr.io.sidecar.output_geometry`; a DICOM series as the DICOM writer stores it)."""

    ext = extension(output)
    if ext in (".nii", ".nii.gz", ".png", ".npy"):
        return output_geometry(result, output)
    # a DICOM series: one file per D slice, each (rows, columns) = (H, W), each with its geometry
    return {
        "output_shape": list(result.shape),
        "output_spacing": [float(s) for s in result.spacing],
        "output_affine_dhw": np.asarray(result.affine, dtype=np.float64).tolist(),
        "output_affine": None,
        "output_spacing_file": None,
        "output_file_axes": ["D (files)", "H", "W"],
        "output_shape_file": None,
    }


def _record(job: Job, vol: Volume, result: Volume, spec: Any, predictor: Any) -> dict[str, Any]:

    src = dict(spec.source)
    return {
        "command": "medsr enhance",
        "medsr_version": __version__,
        "input": str(job.source),
        "output": str(job.output),
        "model": {
            "name": spec.name,
            "kwargs": spec.kwargs,
            "checkpoint": src.get("checkpoint"),
            "sha256": src.get("sha256"),
            "engine": src.get("engine"),
            "source": src,
            "modality": spec.modality,
            "spatial_dims": spec.spatial_dims,
            "scale": list(spec.scale),
            "intensity": spec.intensity.to_dict(),
        },
        "scale": list(predictor.volume_scale(vol)),
        "options": predictor.options(),
        **input_geometry(vol),
        "input_spacing": list(vol.spacing),
        **_output_geometry(result, job.output),
        "modality": result.modality,
        "unit": result.unit,
        "warnings": list(result.meta["medsr_model"]["warnings"]),
    }


def _adapt_options(opt: EnhanceOptions, *, n_jobs: int) -> Any:
    """The adaptation options, or None without ``--adapt``; refuses bad combinations early."""
    if opt.adapt < 0:
        raise ConfigError(f"--adapt takes a number of steps >= 0, got {opt.adapt}")
    if opt.adapt == 0:
        if opt.save_adapted is not None:
            raise ConfigError("--save-adapted needs --adapt N (N > 0)")
        return None
    if opt.engine != "torch":
        raise ConfigError(
            "--adapt fine-tunes checkpoint weights; use --engine torch with the medsr checkpoint"
        )
    if opt.save_adapted is not None:
        if n_jobs != 1:
            raise ConfigError(f"--save-adapted writes one checkpoint: give one input, not {n_jobs}")
        if os.path.lexists(opt.save_adapted) and not opt.overwrite:
            raise MedsrError(f"{opt.save_adapted}: already exists; pass --overwrite to replace it")

    return AdaptOptions(
        steps=opt.adapt, lr=opt.adapt_lr, loss=opt.adapt_loss, seed=opt.seed,
        threads=opt.threads, progress=opt.progress,
    )  # fmt: skip


def _input_digest(path: Path) -> str:
    """sha256 of an input file; for a folder (DICOM series), of its files' names and digests."""
    import hashlib

    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
    return h.hexdigest()


def _save_adapted(
    ckpt: Any,
    adapted: Any,
    model: str | os.PathLike[str],
    adaptation: dict[str, Any],
    path: str | os.PathLike[str],
    opt: EnhanceOptions,
) -> Path:
    """Write the adapted weights as a medsr checkpoint with their provenance."""
    from dataclasses import replace

    src = resolve_model(model)
    provenance = {
        "kind": "per-scan self-supervised adaptation (medsr enhance --adapt)",
        "source_model": str(model),
        "source_checkpoint": str(src.resolve()),
        "source_sha256": sha256_file(src),
        "gan_weight": opt.gan_weight,
        "input_sha256": adaptation["input_sha256"],
        "steps": adaptation["options"]["steps"],
        "steps_run": adaptation["steps_run"],
        "best_step": adaptation["best_step"],
        "stop_reason": adaptation["stop_reason"],
        "seed": opt.seed,
        "lr": adaptation["options"]["lr"],
        "loss": adaptation["options"]["loss"],
        "val_loss_start": adaptation["val_loss_start"],
        "val_loss_best": adaptation["val_loss_best"],
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in adapted.state_dict().items()}
    out = replace(ckpt, state_dict=state, train_state=None, metrics={}, provenance=provenance)
    return save_checkpoint(out, path, overwrite=opt.overwrite)


def enhance_files(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: EnhanceOptions | None = None,
) -> list[dict[str, Any]]:
    """Enhance every scan named by ``inputs`` with ``model``; returns one record per output.

    Raises:
        InputError: Bad inputs or model (missing, foreign or unsafe checkpoint, 3D model on a 2D
            image, modality mismatch without ``force``).
        MedsrError: An output exists and ``overwrite`` is off, another run is writing it, its
            folder cannot be written, or the model produced NaN/Inf voxels.
        ConfigError: Bad option combinations.
    """

    opt = options or EnhanceOptions()
    jobs = plan(inputs, output, dicom_out=opt.dicom_out)
    targets = [p for job in jobs for p in (job.output, job.sidecar)]
    if opt.save_adapted is not None and opt.adapt > 0:
        targets.append(Path(opt.save_adapted))
    with claim_outputs(targets, overwrite=opt.overwrite):  # before any work: refused at once
        return _enhance_jobs(jobs, model=model, opt=opt)


def _check_output(job: Job, result: Volume) -> None:
    """Refuse a result with NaN/Inf voxels before anything is written."""
    finite = np.isfinite(result.array)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise MedsrError(
            f"{job.source}: the model produced {bad} NaN/Inf voxels of {finite.size}; nothing "
            f"was written to {job.output} (the checkpoint may be damaged, or the input far "
            "outside the intensities it was trained on)"
        )


def _enhance_jobs(
    jobs: list[Job], *, model: str | os.PathLike[str], opt: EnhanceOptions
) -> list[dict[str, Any]]:
    """The work of :func:`enhance_files` once its outputs are claimed."""
    import torch

    if opt.device is not None:
        from medsr.devices import parse_device

        parse_device(opt.device)  # a bad name or a missing GPU is refused before any work
    if opt.bf16 and opt.engine != "torch":
        raise ConfigError(
            "--bf16 is for the torch engine; ONNX Runtime runs the exported precision"
        )
    if opt.kspace_factor is not None and not opt.data_consistency:
        raise ConfigError(
            "--kspace-factor gives the input's k-space truncation for --data-consistency; "
            "pass --data-consistency too, or leave the factor out"
        )
    aopt = _adapt_options(opt, n_jobs=len(jobs))
    ckpt = None
    if aopt is None:
        net, spec = load_engine(
            model, engine=opt.engine, device=opt.device, gan_weight=opt.gan_weight
        )
    else:
        from medsr.infer.adapt_pairs import check_adaptable
        from medsr.infer.engines import load_torch_checkpoint

        ckpt, net, spec = load_torch_checkpoint(model, gan_weight=opt.gan_weight)
        check_adaptable(spec, axis=opt.axis if opt.axis is not None else 0)
    if isinstance(opt.window, tuple) and len(opt.window) != spec.spatial_dims:
        raise ConfigError(
            f"--window takes 1 value or {spec.spatial_dims} (one per axis of this "
            f"{spec.spatial_dims}D model), got {len(opt.window)}"
        )
    if opt.data_consistency and spec.modality != "MR":
        raise ConfigError(
            f"data consistency is for MRI k-space models; this model is {spec.modality}"
        )
    kfactor = opt.kspace_factor
    if kfactor is None:
        kfactor = spec.source.get("kspace_factor")  # recorded by the training config, if at all

    def make_predictor(module: Any, axis: int) -> Predictor:
        return Predictor(
            module,
            spec=spec,
            window=opt.window,
            overlap=opt.overlap,
            blend=opt.blend,  # type: ignore[arg-type]
            batch_size=opt.batch_size,
            exact=opt.exact,
            axis=axis,
            device=opt.device,
            amp_dtype=torch.bfloat16 if opt.bf16 else None,
            accumulate_dtype=torch.float32 if opt.accumulate == "float32" else torch.float64,
            self_ensemble=opt.self_ensemble,
        )

    plan = enhance_plan(
        name=spec.name,
        spatial_dims=spec.spatial_dims,
        scale=spec.scale,
        accumulate=opt.accumulate,
        data_consistency=opt.data_consistency,
        adapt=aopt is not None,
        window=opt.window,
    )
    predictors: dict[int, Predictor] = {}  # one per slice axis a 2D model runs along
    records = []
    for job in jobs:
        t0 = time.perf_counter()
        with memory_plan(plan):  # an image whose enhancement cannot fit is refused unread
            vol = read_volume(
                job.source, modality=opt.modality, slice_tolerance=opt.slice_tolerance
            )
        if opt.modality is not None:
            vol.meta["modality_given"] = True
        plane = chosen_plane(vol, opt.axis)
        if plane.axis not in predictors:
            predictors[plane.axis] = make_predictor(net, plane.axis)
        predictor = predictors[plane.axis]
        if opt.data_consistency:  # a band the input cannot have is refused before the model runs
            out_shape = tuple(n * s for n, s in zip(vol.shape, predictor.volume_scale(vol)))
            measured_band(out_shape, tuple(vol.shape), factor=kfactor)
        run, adaptation = predictor, None
        if aopt is not None:
            from medsr.infer.adapt import adapt_model

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ModalityWarning)
                predictor.check(vol, force=opt.force)  # refuse before adapting
            adapted, areport = adapt_model(net, spec, vol, aopt, axis=plane.axis, device=opt.device)
            adaptation = {**areport.to_dict(), "input_sha256": _input_digest(job.source)}
            if opt.save_adapted is not None:
                adaptation["saved"] = str(
                    _save_adapted(ckpt, adapted, model, adaptation, opt.save_adapted, opt)
                )
            run = make_predictor(adapted, plane.axis)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModalityWarning)  # recorded in the sidecar instead
            result = run(vol, force=opt.force)
        record = _record(job, vol, result, spec, run)
        if spec.spatial_dims == 2:
            record["plane"] = plane.to_dict()
        if adaptation is not None:
            record["adaptation"] = adaptation
        if opt.data_consistency:
            fixed, report = apply_data_consistency(
                result.array, vol.array, spatial_dims=3, factor=kfactor
            )
            result = result.with_array(fixed)
            record["data_consistency"] = report.to_dict()
        _check_output(job, result)
        sha = str(spec.source.get("sha256") or "")[:10]
        sd, sh, sw = record["scale"]
        description = f"medsr {spec.name} x{sd}x{sh}x{sw} {sha}"
        if adaptation is not None:
            description += f" adapted {adaptation['best_step']}"
        record["seconds"] = round(time.perf_counter() - t0, 3)
        with contextlib.ExitStack() as stack:
            if opt.dicom_out:
                from medsr.io.dicom_write import write_dicom_series

                tmp = stack.enter_context(atomic_dir(job.output, overwrite=opt.overwrite))
                tside = stack.enter_context(atomic_path(job.sidecar, overwrite=opt.overwrite))
                derivation = f"{description}; options {run.options()}"
                write_dicom_series(result, tmp, description=description, derivation=derivation)
            else:
                tmp = stack.enter_context(atomic_path(job.output, overwrite=opt.overwrite))
                tside = stack.enter_context(atomic_path(job.sidecar, overwrite=opt.overwrite))
                _write_image(result, tmp, extension(job.output), description)
            write_json_sidecar(tside, record, overwrite=True)
        records.append(record)
    return records
