"""``medsr enhance`` as a library function: read, enhance, (data consistency), write with a record.

Every output is written atomically together with its JSON sidecar (both or neither). Existing
outputs are refused before any work unless ``overwrite``. Scans are processed in order; on an
error the outputs already written stay complete and the error is raised (one line, exit 2 in the
CLI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medsr.data.volume import Volume
from medsr.errors import ConfigError, MedsrError
from medsr.infer.jobs import Job, plan


@dataclass
class EnhanceOptions:
    """Options of :func:`enhance_files` (see ``medsr enhance --help``)."""

    engine: str = "torch"
    axis: int = 0
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
    overwrite: bool = False
    gan_weight: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _atomic_dir(target: Path, *, overwrite: bool) -> Iterator[Path]:
    """A temporary folder renamed to ``target`` on success (an old one is replaced)."""
    if target.exists() and not overwrite:
        raise MedsrError(f"{target}: already exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_image(volume: Volume, tmp: Path, ext: str, description: str) -> None:
    from medsr.io.images import write_png
    from medsr.io.nifti import write_nifti

    if ext in (".nii", ".nii.gz"):
        write_nifti(volume, tmp, description=description)
    elif ext == ".npy":
        arr = volume.array  # (C, D, H, W); one channel: (H, W) for a 2D image, else (D, H, W)
        if arr.shape[0] == 1:
            arr = arr[0, 0] if volume.is_2d else arr[0]
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    else:
        depth = volume.meta.get("bit_depth")  # PNG/JPG input: keep its integer scale
        bits = 16 if depth is not None and int(depth) > 8 else 8
        span = None if depth is None else (0.0, float(2**bits - 1))
        write_png(volume, tmp, bits=bits, value_range=span)


def _record(job: Job, vol: Volume, result: Volume, spec: Any, predictor: Any) -> dict[str, Any]:
    from medsr._version import __version__

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
        "input_shape": list(vol.shape),
        "output_shape": list(result.shape),
        "input_spacing": list(vol.spacing),
        "output_spacing": list(result.spacing),
        "output_affine": np.asarray(result.affine).tolist(),
        "modality": result.modality,
        "unit": result.unit,
        "warnings": list(result.meta["medsr_model"]["warnings"]),
    }


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
        MedsrError: An output exists and ``overwrite`` is off.
        ConfigError: Bad option combinations.
    """
    import torch

    from medsr.infer.consistency import apply_data_consistency
    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import ModalityWarning, Predictor
    from medsr.io import read_volume
    from medsr.io.atomic import atomic_path
    from medsr.io.dispatch import extension
    from medsr.io.sidecar import write_json_sidecar

    opt = options or EnhanceOptions()
    jobs = plan(inputs, output, dicom_out=opt.dicom_out)
    if not opt.overwrite:
        for job in jobs:
            for p in (job.output, job.sidecar):
                if p.exists():
                    raise MedsrError(f"{p}: already exists; pass --overwrite to replace it")
    if opt.device and opt.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {opt.device!r} asked, but CUDA is not available here")
    if opt.bf16 and opt.engine != "torch":
        raise ConfigError(
            "--bf16 is for the torch engine; ONNX Runtime runs the exported precision"
        )
    net, spec = load_engine(model, engine=opt.engine, device=opt.device, gan_weight=opt.gan_weight)
    if opt.data_consistency and spec.modality != "MR":
        raise ConfigError(
            f"data consistency is for MRI k-space models; this model is {spec.modality}"
        )
    kfactor = opt.kspace_factor
    if kfactor is None:
        kfactor = spec.source.get("kspace_factor")  # recorded by the training config, if at all
    predictor = Predictor(
        net,
        spec=spec,
        window=opt.window,
        overlap=opt.overlap,
        blend=opt.blend,  # type: ignore[arg-type]
        batch_size=opt.batch_size,
        exact=opt.exact,
        axis=opt.axis,
        device=opt.device,
        amp_dtype=torch.bfloat16 if opt.bf16 else None,
        accumulate_dtype=torch.float32 if opt.accumulate == "float32" else torch.float64,
    )
    records = []
    for job in jobs:
        t0 = time.perf_counter()
        vol = read_volume(job.source, modality=opt.modality)
        if opt.modality is not None:
            vol.meta["modality_given"] = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModalityWarning)  # recorded in the sidecar instead
            result = predictor(vol, force=opt.force)
        record = _record(job, vol, result, spec, predictor)
        if opt.data_consistency:
            fixed, report = apply_data_consistency(
                result.array, vol.array, spatial_dims=3, factor=kfactor
            )
            result = result.with_array(fixed)
            record["data_consistency"] = report.to_dict()
        sha = str(spec.source.get("sha256") or "")[:10]
        sd, sh, sw = record["scale"]
        description = f"medsr {spec.name} x{sd}x{sh}x{sw} {sha}"
        record["seconds"] = round(time.perf_counter() - t0, 3)
        with contextlib.ExitStack() as stack:
            if opt.dicom_out:
                from medsr.infer.dicom_out import write_dicom_series

                tmp = stack.enter_context(_atomic_dir(job.output, overwrite=opt.overwrite))
                tside = stack.enter_context(atomic_path(job.sidecar, overwrite=opt.overwrite))
                derivation = f"{description}; options {predictor.options()}"
                write_dicom_series(result, tmp, description=description, derivation=derivation)
            else:
                tmp = stack.enter_context(atomic_path(job.output, overwrite=opt.overwrite))
                tside = stack.enter_context(atomic_path(job.sidecar, overwrite=opt.overwrite))
                _write_image(result, tmp, extension(job.output), description)
            write_json_sidecar(tside, record, overwrite=True)
        records.append(record)
    return records
