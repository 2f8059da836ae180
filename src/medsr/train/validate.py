"""Validation: run the generator on the fixed cases, undo the normalisation, score under a
named protocol, and the interpolation / low-quality baseline for comparison.

3D cases go through :func:`~medsr.nn.sliding_window.sliding_window_inference` (Gaussian
blending, windows of the training patch in low-quality voxels); 2D cases are one forward pass.
Metrics are computed in scanner units (HU for CT) and averaged over the cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from medsr.baselines.interpolate import cubic
from medsr.data.datasets import to_network
from medsr.data.intensity import IntensityNorm
from medsr.io.atomic import atomic_path
from medsr.metrics.protocols import Protocol
from medsr.nn.sliding_window import sliding_window_inference
from medsr.train.data import ValCase


@torch.no_grad()
def predict_case(
    model: nn.Module,
    case: ValCase,
    *,
    norm: IntensityNorm,
    spatial_dims: int,
    scale: Sequence[int],
    window: Sequence[int],
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> np.ndarray:
    """The generator's prediction for one case, in scanner units.

    CT windows are handled as :class:`~medsr.infer.Predictor` does at inference (the input
    bounded by :meth:`~medsr.data.intensity.IntensityNorm.clip_for_network` and, on the same grid,
    padding and metal passed through from the input), so validation scores what
    ``medsr enhance`` would write.

    Shape:
        Returns ``case.hq``'s shape.
    """

    x = torch.from_numpy(norm.clip_for_network(to_network(case.lq, norm, case.state)))
    if spatial_dims == 2:
        x = x[0][None, None].to(device)
        if amp_dtype is not None:
            with torch.autocast(device_type=device.type, dtype=amp_dtype):
                y = model(x)
        else:
            y = model(x)
        pred = y.float().cpu().numpy()[0]
    else:
        pred = sliding_window_inference(
            x[None, None],
            model,
            window=list(window),
            scale=list(scale),
            overlap=0.25,
            batch_size=2,
            device=device,
            amp_dtype=amp_dtype,
        ).numpy()[0]
    out = norm.inverse(pred, case.state).reshape(case.hq.shape)
    lq = np.asarray(case.lq, dtype=np.float32)
    if lq.size == out.size:  # same grid
        norm.pass_outside_window(out, lq.reshape(out.shape))
    return out


def baseline_case(case: ValCase, *, scale: Sequence[int]) -> np.ndarray:
    """Cubic interpolation of the low-quality input (the input itself on the same grid)."""
    if all(s == 1 for s in scale):
        return case.lq.astype(np.float32)

    return cubic(case.lq.astype(np.float32), scale=tuple(scale)).reshape(case.hq.shape)


def score(
    preds: Sequence[np.ndarray], cases: Sequence[ValCase], protocol: Protocol
) -> dict[str, float]:
    """Mean PSNR / SSIM / NRMSE / MAE over the cases."""
    rows = [protocol.evaluate(p, c.hq) for p, c in zip(preds, cases)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def panel(lq: np.ndarray, pred: np.ndarray, hq: np.ndarray) -> np.ndarray:
    """``[input (nearest-upsampled) | prediction | reference]`` of the middle slice, as uint8,
    all three windowed to the reference's 1st-99th percentiles."""
    mid = hq.shape[0] // 2
    ref, out = hq[mid], pred[mid]
    src = lq[min(lq.shape[0] - 1, mid * lq.shape[0] // hq.shape[0])]
    reps = (ref.shape[0] // src.shape[0], ref.shape[1] // src.shape[1])
    src = np.kron(src, np.ones(reps, dtype=src.dtype))[: ref.shape[0], : ref.shape[1]]
    lo, hi = np.percentile(ref, [1, 99])
    hi = hi if hi > lo else lo + 1.0
    row = np.concatenate([src, out, ref], axis=1)
    return (np.clip((row - lo) / (hi - lo), 0, 1) * 255).round().astype(np.uint8)


def save_panel(image: np.ndarray, path: str) -> None:
    """Write a uint8 grey image as PNG."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
