"""Training quality on a CPU budget: mDCSRN-WGAN-GP, DFGAN and SRResCycGAN against their baselines.

Run ``python benchmarks/train_quality.py [--cases mdcsrn,dfgan,srrescycgan] [--threads 1]
[--out benchmarks/results/train_quality.json]``; results go into the "Training" section of
``docs/BENCHMARKS.md``.

Each case is the shipped recipe with CPU-sized overrides (listed below and in the output):
smaller patches and batches, a few hundred steps, fewer training slices for CT, and a cheaper
CT simulation with the recipe's photon budget (180 views at 2e5 photons per ray instead of 360
at 1e5: the same quantum noise, half the projector work). Validation
is on held-out subjects (DATA.md): pycortex S1 (``pip install --no-deps pycortex==1.4.0``) for
brain MRI, and the two pydicom-data CT patients that are never trained on. Metrics come from
the trainer's validation under each recipe's protocol (brain-mask for MRI, ct-window for CT);
the baseline is the low-quality input itself (same-grid k-space truncation, low-dose CT) or
its cubic interpolation (SR x4). These budgets are far below the papers' (10^5 steps on GPUs):
the numbers measure what the engine does with a few CPU minutes, not the published systems.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from medsr.config import load_config
from medsr.train import train_from_config

ROOT = Path(__file__).resolve().parents[1]

CASES: dict[str, tuple[str, list[str]]] = {
    "mdcsrn": (
        "configs/mdcsrn_wgangp.yaml",
        [
            "data.sampler.patch=[24, 24, 24]", "data.batch_size=2", "data.workers=0",
            "networks.discriminator.kwargs.patch_size=24", "data.val_crop=[64, 64, 64]",
            "train.steps=170", "train.pretrain_steps=150", "train.d_warmup_steps=10",
            "train.burst_every=5", "train.burst_steps=3",
            "optim.generator.lr=5e-4", "val.every=50", "checkpoint.every=50",
        ],
    ),
    "dfgan": (
        "configs/dfgan.yaml",
        [
            "data.train=[{scan: invesalius_head, region: [[40, 56], [0, 256], [0, 256]]},"
            " {scan: pydicom_ct_small}, {scan: pydicom_ct_j2k}]",
            "data.degradation.stages.0.kwargs.views=180", "data.degradation.stages.0.kwargs.i0=2e5",
            "data.degradation.realizations=1",
            "data.sampler.patch=[64, 64]", "data.batch_size=4", "data.workers=0",
            "train.steps=300", "val.every=100", "checkpoint.every=100",
        ],
    ),
    "srrescycgan": (
        "configs/srrescycgan.yaml",
        [
            "losses.terms.feature.weight=0", "data.sampler.patch=[48, 48]",
            "networks.discriminator.kwargs.patch_size=48", "data.batch_size=4",
            "networks.discriminator_lr.kwargs={channels: [64, 128, 256], strides: [2, 2, 1]}",
            "data.workers=0", "data.val_slices=2", "data.val_crop=[128, 128]",
            "train.steps=200", "train.pretrain_steps=150", "val.every=50", "checkpoint.every=50",
        ],
    ),
}  # fmt: skip


def run_case(name: str, out_dir: Path) -> dict[str, Any]:
    path, overrides = CASES[name]
    cfg = load_config(ROOT / path, overrides=overrides)
    t0 = time.perf_counter()
    result = train_from_config(cfg, out_dir / name, progress=False)
    wall = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out_dir / name / "log.jsonl").read_text().splitlines()]
    vals = [r for r in rows if r.get("event") == "validation"]
    return {
        "config": path, "overrides": overrides, "protocol": cfg.val.protocol,
        "steps": result.steps, "wall_s": wall, "train_s": result.seconds,
        "baseline": result.baseline, "final": result.last_val,
        "best": {"step": result.best_step, result.metric: result.best_value},
        "curve": [{"step": r["step"], "psnr": r.get("psnr"), "ssim": r.get("ssim")} for r in vals],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "train_quality")
    parser.add_argument("--out", type=Path, help="write (merge) the results into this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"threads": args.threads, "cases": {}}
    if args.out and args.out.is_file():  # keep the other cases of an earlier run
        results["cases"] = json.loads(args.out.read_text()).get("cases", {})
    for name in args.cases.split(","):
        res = run_case(name, args.runs)
        results["cases"][name] = res
        b, f = res["baseline"], res["final"]
        print(
            f"{name}: {res['steps']} steps, {res['wall_s']:.0f} s | baseline PSNR {b['psnr']:.2f} "
            f"SSIM {b['ssim']:.4f} | trained PSNR {f['psnr']:.2f} SSIM {f['ssim']:.4f}",
            flush=True,
        )
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
