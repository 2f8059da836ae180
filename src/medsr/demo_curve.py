"""The demo's perception-distortion curve: a GAN model blended with its PSNR partner, A = 0..1.

``medsr enhance --model GAN --gan-weight A`` runs the network interpolation
``(1 - A) * theta_psnr + A * theta_gan`` (Wang et al., ESRGAN, ECCVW 2018, sec. 3.4; see
:mod:`medsr.infer.interpolate`). For a demo case whose GAN model has its PSNR partner installed,
:func:`gan_weight_curve` measures PSNR, SSIM and HFEN of the blended model at
:data:`GAN_WEIGHTS` on a fixed centre crop, so that five extra model runs stay cheap:

* 3D (``sr3d``): at most :data:`CROP_3D` voxels per axis of the model's input (the zero-filled
  volume, same grid as the reference) and the same voxels of the reference; no data consistency;
* 2D (``sr2d``, ``denoise2d``): the central :data:`SLICES_2D` axial slices; each slice is
  evaluated as a 2D image (the model works slice by slice, and 8 slices are fewer than SSIM's
  11-tap window) and the metrics are averaged over the slices.

The numbers are for the crop, not the whole volume: compare the points with each other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from medsr.artifact.zoo import BUNDLED, available
from medsr.demo_cases import make_predictor
from medsr.geometry import crop_affine
from medsr.metrics.protocols import get_protocol
from medsr.volume import Volume

#: The blend weights of the curve: 0 is the PSNR model, 1 the GAN model as trained.
GAN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Largest crop edge (voxels) of a 3D case: five runs on 64^3 cost about 15 % of one run on the
#: whole demo volume (on 96^3: about half, which took ``make demo`` past its time budget).
CROP_3D = 64
#: Central axial slices of a 2D case.
SLICES_2D = 8
#: Metrics stored per point (lower is better for HFEN).
CURVE_METRICS = ("psnr", "ssim", "hfen")
#: File name of the curve in a case folder.
CURVE_FILE = "gan_weight_curve.json"


def curve_partner(model: str) -> str:
    """The installed PSNR partner of a bundled GAN model (``""`` if none is named or installed)."""

    entry = BUNDLED.get(model)
    if entry is None or entry.stage != "gan" or not entry.psnr_model:
        return ""
    return entry.psnr_model if entry.psnr_model in available() else ""


def centre_crop(volume: Volume, *, start: Sequence[int], shape: Sequence[int]) -> Volume:
    """The voxels ``start .. start + shape`` of every spatial axis; the affine follows the crop.

    Raises:
        ValueError: If the box does not lie inside the volume.
    """
    if len(start) != 3 or len(shape) != 3:
        raise ValueError(f"start and shape need 3 entries (D, H, W), got {start} and {shape}")
    for s, m, n in zip(start, shape, volume.shape, strict=True):
        if s < 0 or m < 1 or s + m > n:
            raise ValueError(f"crop start {list(start)} shape {list(shape)} outside {volume.shape}")
    box = tuple(slice(s, s + m) for s, m in zip(start, shape, strict=True))
    return Volume(
        array=np.ascontiguousarray(volume.array[(slice(None), *box)]),
        spacing=volume.spacing,
        affine=crop_affine(volume.affine, list(start)),
        modality=volume.modality,
        unit=volume.unit,
        meta={**volume.meta, "crop_start": list(start)},
    )


def curve_crops(
    task: str, model_input: Volume, reference: Volume
) -> tuple[Volume, Volume, dict[str, Any]]:
    """The crops of the model's input and of the reference that the curve uses.

    Args:
        task: ``"sr3d"`` (same grid: one box for both) or a 2D task (the central slices; the
            slices keep their whole in-plane extent, whatever the scale).
        model_input: The model's input volume.
        reference: The reference volume (same number of slices as the input).

    Returns:
        ``(input_crop, reference_crop, description)``; the description is stored as ``crop``.
    """
    if task == "sr3d":
        if model_input.shape != reference.shape:
            raise ValueError(
                f"a 3D curve needs the input on the reference grid, got {model_input.shape} "
                f"and {reference.shape}"
            )
        shape = [min(n, CROP_3D) for n in model_input.shape]
        start = [(n - m) // 2 for n, m in zip(model_input.shape, shape, strict=True)]
        box = "x".join(map(str, shape))
        desc = {
            "kind": "centre-box",
            "start": start,
            "shape": shape,
            "reference_start": start,
            "reference_shape": shape,
            "text": f"central {box} voxels (D x H x W) of the model's input and the reference",
        }
        return (
            centre_crop(model_input, start=start, shape=shape),
            centre_crop(reference, start=start, shape=shape),
            desc,
        )
    d = model_input.shape[0]
    if reference.shape[0] != d:
        raise ValueError(f"input has {d} slices, the reference {reference.shape[0]}")
    k = min(d, SLICES_2D)
    first = (d - k) // 2
    lq_shape = [k, *model_input.shape[1:]]
    ref_shape = [k, *reference.shape[1:]]
    desc = {
        "kind": "central-slices",
        "start": [first, 0, 0],
        "shape": lq_shape,
        "reference_start": [first, 0, 0],
        "reference_shape": ref_shape,
        "text": f"central {k} axial slices ({first}..{first + k - 1})",
    }
    return (
        centre_crop(model_input, start=[first, 0, 0], shape=lq_shape),
        centre_crop(reference, start=[first, 0, 0], shape=ref_shape),
        desc,
    )


def crop_metrics(
    pred: np.ndarray, reference: np.ndarray, *, protocol: str, per_slice: bool
) -> dict[str, float]:
    """:data:`CURVE_METRICS` of a crop under a protocol (2D per slice and averaged, or 3D).

    Args:
        pred: Prediction, ``(C, D, H, W)`` or ``(D, H, W)``.
        reference: Reference of the same shape.
        protocol: Registered protocol name.
        per_slice: Evaluate every slice along D as a 2D image and average the metrics.
    """

    proto = get_protocol(protocol)
    p = np.asarray(pred)
    r = np.asarray(reference)
    if p.ndim not in (3, 4) or p.shape != r.shape or (p.ndim == 4 and p.shape[0] != 1):
        raise ValueError(
            f"expected two (1, D, H, W) or (D, H, W) arrays of one shape, got {p.shape} and "
            f"{r.shape}"
        )
    if p.ndim == 4:
        p, r = p[0], r[0]
    depth = int(p.shape[0])
    if not per_slice:
        found = proto.evaluate(p, r)
        return {m: float(found[m]) for m in CURVE_METRICS}
    each = [proto.evaluate(p[k], r[k]) for k in range(depth)]
    return {m: float(np.mean([e[m] for e in each])) for m in CURVE_METRICS}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def gan_weight_curve(
    *,
    model: str,
    task: str,
    model_input: Volume,
    reference: Volume,
    protocols: Sequence[str],
    precision: str = "fp32",
    weights: Sequence[float] = GAN_WEIGHTS,
) -> dict[str, Any]:
    """Metrics of ``model`` blended with its PSNR partner at each weight, on the curve's crop.

    Each weight builds its engine with ``load_engine(model, gan_weight=A)`` and runs it with
    the demo's predictor settings (:func:`medsr.demo.make_predictor`).

    Args:
        model: A bundled GAN model whose PSNR partner is installed.
        task: The case's task.
        model_input: The whole input the case's model was given.
        reference: The case's reference.
        protocols: Protocol names, the primary one first.
        precision: ``"fp32"`` or ``"bf16"`` (3D models).
        weights: The blend weights, each in [0, 1].

    Returns:
        The ``gan_weight_curve.json`` document: ``protocol`` (the primary one), ``crop``,
        ``points`` (``gan_weight`` and the metrics under the primary protocol) and
        ``per_protocol`` (the points under every protocol), plus the models, the command, how
        the crop was evaluated and ``data_consistency`` (False for the 3D k-space model: not
        applied; None for 2D models, which have none).

    Raises:
        InputError: If the PSNR partner is missing or does not match (see ``load_engine``).
        ValueError: Without protocols, or with a weight outside [0, 1].
    """

    if not protocols:
        raise ValueError("gan_weight_curve needs at least one protocol (the primary one first)")
    bad = [w for w in weights if not 0.0 <= float(w) <= 1.0]
    if bad:
        raise ValueError(f"GAN weights must lie in [0, 1], got {bad}")
    t0 = time.perf_counter()
    lq, ref, crop = curve_crops(task, model_input, reference)
    per_slice = task != "sr3d"
    per_protocol: dict[str, list[dict[str, float | None]]] = {p: [] for p in protocols}
    for a in weights:
        pred = make_predictor(model, task, lq.shape, precision, gan_weight=float(a))(lq)
        for p in protocols:
            found = crop_metrics(pred.array, ref.array, protocol=p, per_slice=per_slice)
            point: dict[str, float | None] = {"gan_weight": float(a)}
            point.update({m: _finite(v) for m, v in found.items()})
            per_protocol[p].append(point)
    evaluation = (
        "mean over the slices, each slice evaluated as a 2D image"
        if per_slice
        else "the crop evaluated as one 3D image"
    )
    return {
        "kind": "medsr-gan-weight-curve",
        "model": model,
        "psnr_model": BUNDLED[model].psnr_model if model in BUNDLED else "",
        "protocol": protocols[0],
        "metrics": list(CURVE_METRICS),
        "crop": crop,
        "evaluation": evaluation,
        "data_consistency": False if task == "sr3d" else None,  # None: not a k-space model
        "precision": precision if task == "sr3d" else "fp32",
        "command": f"medsr enhance IN --model {model} --gan-weight A -o OUT",
        "points": per_protocol[protocols[0]],
        "per_protocol": per_protocol,
        "seconds": round(time.perf_counter() - t0, 1),
    }
