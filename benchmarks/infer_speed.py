"""Inference speed: medsr's sliding window vs MONAI's, attained GFLOP/s vs peak, bf16 accuracy.

Run ``python benchmarks/infer_speed.py [--quick] [--threads N] [--out results.json]``; results go
into the "Inference" section of ``docs/BENCHMARKS.md``. CPU only. One thread by default: on a
machine whose cores other jobs also use, OpenMP threads spin at barriers while a sibling is
descheduled and a two-thread run slows down by up to 10x, at random; one thread measures the
methods, not the neighbours.

Per case (same network, window, overlap 0.25, Gaussian blending sigma 0.125, 4 windows per call):

* ``monai``: ``monai.inferers.sliding_window_inference`` with the plain module;
* ``monai-b2``, ``monai-b1``: the same with 2 and 1 windows per call (medsr splits a call into
  cache-sized sub-batches on the CPU, so MONAI's best batch size is reported as well);
* ``monai-bf16``: MONAI under bfloat16 autocast (the peer of ``medsr-bf16``);
* ``medsr-swi``: :func:`medsr.nn.sliding_window.sliding_window_inference`, the same module;
* ``medsr``: :class:`medsr.infer.Predictor` (its default path: the network rewritten for
  inference by :mod:`medsr.infer.optimize`, channels-last, cache-sized sub-batches, inference
  mode);
* ``medsr-exact``: Predictor in exact mode (halo from the measured receptive field);
* ``medsr-bf16``: Predictor under bfloat16 autocast;
* ``medsr-ov0.1``: Predictor with overlap 0.1 (fewer windows where the volume size allows;
  compare its seam error with MONAI's at 0.25).

Methods are interleaved and repeated; the best time counts (the machine may be shared), and the
peak (a 4096^2 fp32 matmul, 64->64-channel 3x3 and 3x3x3 convolutions in channels-first and
channels-last layouts) is re-measured before every
repetition, the best counting, so the percentage compares the case with the machine's state at
the time. Seam
error is measured against one full-volume fp32 pass of the plain module: max and RMS absolute
difference divided by the full pass's max. GFLOP/s counts the FLOPs actually executed (every
window, overlaps included; convolutions only, from ``torch.utils.flop_counter``).

bf16 accuracy on fitted models, in the data's units, is ``benchmarks/infer_bf16.py``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from medsr.artifact.spec import ModelSpec
from medsr.data.intensity import IntensityNorm
from medsr.infer import Predictor, exact_halo, sliding_window_inference
from medsr.models.analysis import flops_per_output_voxel
from medsr.models.generators import GENERATORS


def peak_gflops(reps: int) -> dict[str, float]:
    """Best GFLOP/s of a large fp32 matmul and of large 2D/3D convolutions."""
    out: dict[str, float] = {}
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    jobs: dict[str, tuple[Callable[[], Any], float]] = {"matmul_4096": (lambda: a @ b, 2 * 4096**3)}
    convs = {
        "conv2d_64x64": ((8, 64, 128, 128), torch.channels_last, "nhwc"),
        "conv3d_64x64": ((1, 64, 40, 40, 40), torch.channels_last_3d, "ndhwc"),
    }
    for name, (shape, last, suffix) in convs.items():
        x, w = torch.randn(*shape), torch.randn(64, 64, *([3] * (len(shape) - 2)))
        flops = 2.0 * shape[0] * 64 * 64 * math.prod(w.shape[2:]) * math.prod(shape[2:])
        for key, fmt in ((name, torch.contiguous_format), (f"{name}_{suffix}", last)):
            xf, wf = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)
            jobs[key] = (functools.partial(_conv, xf, wf), flops)
    with torch.inference_mode():
        for name, (fn, flops) in jobs.items():
            fn()
            best = min(_timed(fn) for _ in range(reps))
            out[name] = flops / best / 1e9
    return out


def _conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    conv = torch.nn.functional.conv2d if x.ndim == 4 else torch.nn.functional.conv3d
    return conv(x, w, padding=1)


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class _Counter:
    """A forward hook counting the output voxels a network produced (for executed FLOPs).

    A hook, not a wrapper, so that the Predictor still sees its own module (it sizes CPU
    sub-batches only for modules).
    """

    def __init__(self) -> None:
        self.voxels = 0

    def __call__(self, _module: Any, _args: Any, y: torch.Tensor) -> None:
        self.voxels += y.shape[0] * math.prod(y.shape[2:])


def _volume(name: str, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, str]:
    """A crop of a real scan (normalised to ~[0, 1]) or random data if it is not installed."""
    try:
        from medsr.data import catalogue

        vol = catalogue.load(name).array[0]
        c = [(n - s) // 2 for n, s in zip(vol.shape, shape)]
        crop = vol[c[0] : c[0] + shape[0], c[1] : c[1] + shape[1], c[2] : c[2] + shape[2]]
        crop = crop / max(float(np.percentile(crop, 99.5)), 1e-6)
        return np.ascontiguousarray(crop, dtype=np.float32), name
    except Exception as exc:
        rng = np.random.default_rng(seed)
        return rng.random(shape, dtype=np.float32), f"random ({type(exc).__name__})"


def run_case(case: dict[str, Any], reps: int) -> dict[str, Any]:
    """Time every method on one case; returns throughput, GFLOP/s and seam errors.

    The peak is measured again before every repetition (the best one counts), so that a
    machine shared with other jobs is compared with itself at the same time.
    """
    torch.manual_seed(0)
    model = GENERATORS.build(case["model"], **case["kwargs"]).eval()
    nd = int(case["kwargs"].get("spatial_dims", 3))
    scale = model.scale  # type: ignore[attr-defined]
    vol, source = _volume("mni152_2009a", case["volume"])
    x = torch.from_numpy(vol)[:, None] if nd == 2 else torch.from_numpy(vol)[None, None]
    win = case["window"]
    spec = ModelSpec(
        name=case["model"], spatial_dims=nd, scale=(1, *scale) if nd == 2 else scale,
        modality="MR", intensity=IntensityNorm(kind="minmax"),
    )  # fmt: skip
    flops_vox = flops_per_output_voxel(model, (1, 1, *([win] * nd)))
    halo = exact_halo(model, spatial_dims=nd, in_channels=1, scale=scale)
    with torch.inference_mode():
        full = model(x)
    ref = float(full.abs().max())
    common = {"window": win, "overlap": 0.25, "blend": "gaussian", "batch_size": 4}

    def monai_with(batch: int, amp: bool = False) -> Callable[[], torch.Tensor]:
        def go() -> torch.Tensor:
            from monai.inferers import sliding_window_inference as monai_swi

            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                y = monai_swi(
                    x, [win] * nd, batch, model, overlap=0.25, mode="gaussian", sigma_scale=0.125
                )
            return y.float()  # type: ignore[union-attr]

        return go

    def swi() -> torch.Tensor:
        return sliding_window_inference(x, model, scale=scale, **common)  # type: ignore[arg-type]

    predictors = {
        "medsr": Predictor(model, spec=spec, **common),  # type: ignore[arg-type]
        "medsr-exact": Predictor(model, spec=spec, exact=True, halo=halo, window=win, batch_size=4),
        "medsr-bf16": Predictor(model, spec=spec, amp_dtype=torch.bfloat16, **common),  # type: ignore[arg-type]
        "medsr-ov0.1": Predictor(model, spec=spec, **{**common, "overlap": 0.1}),  # type: ignore[arg-type]
    }

    def via(p: Predictor) -> Callable[[], torch.Tensor]:
        def go() -> torch.Tensor:
            arr = x[:, 0].numpy()[None] if nd == 2 else x[0].numpy()
            out = torch.from_numpy(p.run_array(arr))
            return out[0][:, None] if nd == 2 else out[None]

        return go

    methods: dict[str, tuple[Callable[[], torch.Tensor], torch.nn.Module]] = {
        "monai": (monai_with(4), model),
        "monai-b2": (monai_with(2), model),
        "monai-b1": (monai_with(1), model),
        "monai-bf16": (monai_with(4, amp=True), model),
        "medsr-swi": (swi, model),
    }
    for key, p in predictors.items():
        assert isinstance(p.net, torch.nn.Module)
        methods[key] = (via(p), p.net)
    times: dict[str, list[float]] = {k: [] for k in methods}
    results: dict[str, Any] = {}
    peaks: list[dict[str, float]] = []
    for rep in range(reps):
        peaks.append(peak_gflops(1))
        for name, (fn, module) in methods.items():
            counter = _Counter()
            handle = module.register_forward_hook(counter)
            with torch.inference_mode():
                t = time.perf_counter()
                y = fn()
                times[name].append(time.perf_counter() - t)
            handle.remove()
            if rep == 0:
                diff = (y - full).abs()
                results[name] = {
                    "seam_max_rel": float(diff.max()) / ref,
                    "seam_rms_rel": float(diff.pow(2).mean().sqrt()) / ref,
                    "windows_voxels": counter.voxels,
                }
    out_vox = full.shape[0] * math.prod(full.shape[2:])
    peak_by_kind = {k: max(p[k] for p in peaks) for k in peaks[0]}
    peak = max(peak_by_kind.values())
    best_monai = min(min(times[k]) for k in ("monai", "monai-b2", "monai-b1"))
    for name in methods:
        best = min(times[name])
        gflops = results[name]["windows_voxels"] * flops_vox / best / 1e9
        results[name].update(
            seconds=best,
            out_voxels_per_s=out_vox / best,
            gflops=gflops,
            pct_peak=100 * gflops / peak,
            speedup_vs_monai=min(times["monai"]) / best,
            speedup_vs_best_monai_batch=best_monai / best,
            speedup_vs_monai_bf16=min(times["monai-bf16"]) / best,
        )
    return {
        "case": case["label"], "input": list(x.shape), "window": win, "halo": list(halo),
        "data": source, "flops_per_output_voxel": flops_vox, "peak_gflops": peak_by_kind,
        "methods": results, "load": os.getloadavg(),
    }  # fmt: skip


CASES = [
    {
        "label": "mDCSRN 3D same grid (paper width)",
        "model": "mdcsrn", "kwargs": {}, "volume": (64, 64, 64), "window": 32,
    },
    {
        "label": "SRResNet x2 2D slices (paper width)",
        "model": "srresnet", "kwargs": {"spatial_dims": 2, "scale": 2},
        "volume": (8, 128, 128), "window": 64,
    },
    {
        "label": "SRResNet x2 3D (F=32, 4 blocks, 3^3 outer kernels)",
        "model": "srresnet",
        "kwargs": {"spatial_dims": 3, "scale": 2, "features": 32, "num_blocks": 4,
                   "outer_kernel_size": 3},
        "volume": (40, 40, 40), "window": 20,
    },
    {
        "label": "SRResNet x2 3D (F=32, 4 blocks, 3^3 outer kernels), larger volume",
        "model": "srresnet",
        "kwargs": {"spatial_dims": 3, "scale": 2, "features": 32, "num_blocks": 4,
                   "outer_kernel_size": 3},
        "volume": (96, 96, 96), "window": 20,
    },
]  # fmt: skip


def _quick(case: dict[str, Any]) -> dict[str, Any]:
    """Half the window and the volume (2D: the in-plane size only)."""
    c = dict(case)
    d, h, w = case["volume"]
    c["volume"] = (d if case["kwargs"].get("spatial_dims") == 2 else d // 2, h // 2, w // 2)
    c["window"] = case["window"] // 2
    return c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half-size volumes, 2 repetitions")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", nargs="+", type=int, help="indices of the cases to run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: OpenMP barriers spin badly when the cores are shared)",
    )
    parser.add_argument("--out", default=None, help="write the results as JSON")
    args = parser.parse_args()
    reps = 2 if args.quick else args.reps
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }  # fmt: skip
    report["cases"] = []
    for index, case in enumerate(CASES):
        if args.cases is not None and index not in args.cases:
            continue
        res = run_case(_quick(case) if args.quick else case, reps)
        report["cases"].append(res)
        print(f"\n{res['case']}  input {res['input']} window {res['window']} halo {res['halo']}")
        print("  peak GFLOP/s:", {k: round(v, 1) for k, v in res["peak_gflops"].items()})
        for name, m in res["methods"].items():
            print(
                f"  {name:12s} {m['out_voxels_per_s'] / 1e3:9.1f} kvox/s  x{m['speedup_vs_monai']:.2f}"
                f" (best-batch x{m['speedup_vs_best_monai_batch']:.2f},"
                f" bf16 x{m['speedup_vs_monai_bf16']:.2f})"
                f"  {m['gflops']:6.1f} GFLOP/s ({m['pct_peak']:4.1f}% peak)"
                f"  seam max {m['seam_max_rel']:.2e} rms {m['seam_rms_rel']:.2e}"
            )
    report["load_after"] = os.getloadavg()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
