"""Low-dose CT simulation speed: the batched sparse projector against the original per-slice path.

Run ``python benchmarks/ct_lowdose_speed.py [--size 512] [--slices 4] [--views 720] [--threads 1]
[--repeats 2]``; the results go to ``benchmarks/results/ct_lowdose_speed.json``. The two paths are
timed alternately ``--repeats`` times and compared by their best times (a shared machine's load
changes during a run; every time is recorded).

Both paths run in the same process on the same synthetic chest-like CT (a water ellipse with lungs,
a spine and ribs, in HU) with the same seed: ``method="gather"`` is the original implementation
(one slice at a time, per-view gathers), ``method="sparse"`` the new one (slices batched through
shared sparse interpolation matrices and the four-fold view symmetry). The record holds the wall
times, the speedup, how far the two projectors are apart (noise-free: line integrals and FBP of
slice 0), the noise of both paths (the same seed need not give the same draws: float32 rounding of
a line integral can change how many uniforms numpy's Poisson sampler consumes) and the noise law
of the new path (25 % vs 50 % dose noise ratio, mean HU kept).
``--more-slices N`` also times the new path alone on ``N`` slices (the old one is linear in the
slice count, one slice at a time, so its time there is its per-slice time times ``N``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medsr.degrade.ct import simulate_low_dose_ct

ROOT = Path(__file__).resolve().parents[1]
PIXEL_MM = 0.7


def chest_phantom(size: int, slices: int) -> np.ndarray:
    """``(slices, size, size)`` HU: body ellipse (40 HU), two lungs (-850), spine (700), ribs."""
    yy, xx = (np.mgrid[:size, :size] - (size - 1) / 2.0) / (size / 2.0)
    out = np.full((slices, size, size), -1000.0, dtype=np.float32)
    for k in range(slices):
        wobble = 0.02 * math.sin(k)
        body = (xx / (0.85 + wobble)) ** 2 + (yy / 0.6) ** 2 < 1.0
        ribs = body & ((xx / 0.8) ** 2 + (yy / 0.55) ** 2 > 0.9)
        lungs = ((np.abs(xx) - 0.38) / 0.25) ** 2 + ((yy + 0.05) / 0.4) ** 2 < 1.0
        spine = xx**2 + (yy - 0.45) ** 2 < 0.08**2
        s = out[k]
        s[body] = 40.0
        s[ribs] = 300.0
        s[lungs] = -850.0
        s[spine] = 700.0
    return out


def _timed(hu: np.ndarray, method: str, *, views: int, dose: float, seed: int) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = simulate_low_dose_ct(
        hu,
        rng=np.random.default_rng(seed),
        pixel_size=PIXEL_MM,
        dose=dose,
        views=views,
        method=method,  # type: ignore[arg-type]
    )
    return out, time.perf_counter() - t0


def _projector_agreement(hu: np.ndarray, views: int) -> dict[str, float]:
    """Noise-free: line integrals and FBP of one slice by both methods, max relative difference."""
    from medsr.degrade.ct import hu_to_mu
    from medsr.degrade.ct_projector import fbp, forward_project

    mu = np.clip(hu_to_mu(hu), 0.0, None)
    p = {m: forward_project(mu, views=views, method=m) for m in ("gather", "sparse")}
    rec = {m: fbp(p["gather"], shape=hu.shape, method=m) for m in ("gather", "sparse")}  # type: ignore[arg-type]
    rel = {
        "line_integrals_max_rel_diff": np.abs(p["sparse"] - p["gather"]).max()
        / np.abs(p["gather"]).max(),
        "fbp_max_rel_diff": np.abs(rec["sparse"] - rec["gather"]).max()
        / np.abs(rec["gather"]).max(),
    }
    return {k: float(v) for k, v in rel.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="slice size (pixels)")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--views", type=int, default=720)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--more-slices", type=int, default=0, help="also time the new path here")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "ct_lowdose_speed.json"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    hu = chest_phantom(args.size, args.slices)
    record: dict[str, Any] = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "load_before": list(os.getloadavg()),
        "input": {"slices": args.slices, "size": [args.size, args.size], "pixel_mm": PIXEL_MM},
        "views": args.views,
        "dose": 0.25,
        "i0": 1e5,
    }
    runs: dict[str, list[float]] = {"gather (old)": [], "sparse (new)": []}
    for _ in range(max(1, args.repeats)):
        new, t = _timed(hu, "sparse", views=args.views, dose=0.25, seed=0)
        runs["sparse (new)"].append(t)
        old, t = _timed(hu, "gather", views=args.views, dose=0.25, seed=0)
        runs["gather (old)"].append(t)
    t_new, t_old = min(runs["sparse (new)"]), min(runs["gather (old)"])
    body = hu > -500
    noise_new = float((new - hu)[body].std())
    noise_old = float((old - hu)[body].std())
    record["seconds_all_runs"] = runs
    record["seconds"] = {"gather (old)": t_old, "sparse (new)": t_new}
    record["seconds_per_slice"] = {
        "gather (old)": t_old / args.slices,
        "sparse (new)": t_new / args.slices,
    }
    record["speedup"] = t_old / t_new
    record["agreement"] = {
        **_projector_agreement(hu[0], args.views),
        "noise_std_hu_in_body_old": noise_old,
        "noise_std_hu_in_body_new": noise_new,
        "mean_hu_shift_old": float((old - hu)[body].mean()),
        "mean_hu_shift_new": float((new - hu)[body].mean()),
    }
    half, _ = _timed(hu, "sparse", views=args.views, dose=0.5, seed=1)
    noise_half = float((half - hu)[body].std())
    record["noise_law"] = {
        "std_25_over_std_50": noise_new / noise_half,
        "expected": math.sqrt(2.0),
        "mean_hu_shift_25": float((new - hu)[body].mean()),
    }
    if args.more_slices:
        many = chest_phantom(args.size, args.more_slices)
        _, t_many = _timed(many, "sparse", views=args.views, dose=0.25, seed=0)
        per_old = t_old / args.slices
        record["more_slices"] = {
            "slices": args.more_slices,
            "sparse_seconds": t_many,
            "sparse_seconds_per_slice": t_many / args.more_slices,
            "gather_seconds_estimated": per_old * args.more_slices,
            "speedup_estimated": per_old * args.more_slices / t_many,
        }
    record["load_after"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    main()
