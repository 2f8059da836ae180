"""Geometric self-ensemble (``medsr enhance --self-ensemble``): its gain over the same model
without it, and its cost, on whole held-out volumes.

Run ``python benchmarks/self_ensemble.py [--scan pycortex_s1] [--out
benchmarks/results/self_ensemble.json]``; results go into the "Self-ensemble" section of
``docs/BENCHMARKS.md``. The option is off by default and chooses nothing, so measuring it on the
held-out subject informs no weights or recipe.

Cases (the head of the scan cropped to at most 160 x 256 x 256 voxels, as ``benchmarks/adapt.py``;
2 torch threads): the 3D k-space model (default ``mdcsrn-t1-k2-psnr``) on the k-space truncation
1 x 2 x 2, zero-filled on the same grid, against the zero-filled input; the 2D x2 model (default
``srgan-t1-x2-psnr``) on bicubic-decimated axial slices, against cubic interpolation. Brain-mask
PSNR / SSIM / HFEN of the baseline, of the model, and of the model with the self-ensemble (8 flips
in 3D, 4 in 2D), and both wall times.

``--cases denoise2d`` (write it to its own file, ``--out benchmarks/results/self_ensemble_ct.json``):
the CT denoisers (default ``dfgan-ct-qd,attn-dfgan-ct-qd``) on the two held-out pydicom-data
patients with ``--seeds`` quarter-dose draws each, exactly the draws of ``benchmarks/quality.py``
(the demo's simulation, seeds 0, 1, ...), so the rows without the self-ensemble reproduce its
numbers; BM3D told the true noise sigma as the baseline; ``ct-window`` and ``ldct-bench`` PSNR /
SSIM and the ``ct-tissue-hu`` shifts, means over patients and draws.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from adapt import _head_crop, _scores, case_inputs  # the adaptation benchmark's cases


def run_case(kind: str, model: str, ref: Any, threads: int) -> dict[str, Any]:
    import torch

    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import Predictor

    torch.set_num_threads(threads)
    low, baseline_name, baseline, pkw = case_inputs(kind, ref)
    net, spec = load_engine(model)
    rows = {baseline_name: _scores(baseline, ref)}
    seconds = {}
    for label, ens in ((model, False), (f"{model} --self-ensemble", True)):
        t0 = time.perf_counter()
        out = Predictor(net, spec=spec, self_ensemble=ens, **pkw)(low)
        seconds[label] = round(time.perf_counter() - t0, 1)
        rows[label] = _scores(out, ref)
    ens_label = f"{model} --self-ensemble"
    return {
        "model": model, "kind": kind, "shape": list(ref.shape), "metrics": rows,
        "seconds": seconds,
        "gain_db": rows[ens_label]["psnr"] - rows[model]["psnr"],
        "model_over_baseline_db": rows[model]["psnr"] - rows[baseline_name]["psnr"],
        "ensemble_over_baseline_db": rows[ens_label]["psnr"] - rows[baseline_name]["psnr"],
    }  # fmt: skip


CT_PROTOCOLS = ("ct-window", "ldct-bench")
TISSUE_KEYS = ("fat_shift", "muscle_shift", "bone_shift", "contrast_change")


def run_ct(models: list[str], scans: list[str], seeds: int, threads: int) -> dict[str, Any]:
    """The CT denoisers with and without the self-ensemble against BM3D at the true sigma (the
    draws of ``benchmarks/quality.py``); per method the mean over patients and draws."""
    import numpy as np
    import torch

    from medsr.baselines import run_baseline
    from medsr.data import catalogue
    from medsr.degrade.volumes import lowdose_ct_volume
    from medsr.demo_cases import CT_LOWDOSE, true_noise_sigma
    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import Predictor
    from medsr.metrics.protocols import get_protocol

    torch.set_num_threads(threads)
    nets = {m: load_engine(m) for m in models}
    rows: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, float] = {}

    def score(label: str, pred: Any, ref: Any) -> None:
        row = {}
        for p in CT_PROTOCOLS:
            m = get_protocol(p).evaluate(pred.array, ref.array)
            row[f"{p} psnr"], row[f"{p} ssim"] = float(m["psnr"]), float(m["ssim"])
        tissue = get_protocol("ct-tissue-hu").evaluate(pred.array, ref.array)
        row.update({k: float(tissue[k]) for k in TISSUE_KEYS})
        rows.setdefault(label, []).append(row)

    for scan in scans:
        ref = catalogue.load(scan)
        for seed in range(seeds):  # the demo's draw for this seed (medsr.demo_cases.run_denoise2d)
            low = lowdose_ct_volume(ref, rng=np.random.default_rng(seed), **CT_LOWDOSE)
            score(
                "bm3d (true sigma)",
                run_baseline("bm3d", low, sigma=true_noise_sigma(low, ref)),
                ref,
            )
            for model, (net, spec) in nets.items():
                for label, ens in ((model, False), (f"{model} --self-ensemble", True)):
                    t0 = time.perf_counter()
                    pred = Predictor(
                        net, spec=spec, window=512, overlap=0.125, batch_size=1, self_ensemble=ens
                    )(low)
                    seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
                    score(label, pred, ref)
    means = {
        label: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for label, rs in rows.items()
    }
    return {
        "scans": scans, "seeds": seeds, "n": len(scans) * seeds, "metrics": means,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from medsr.data import catalogue

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", default="pycortex_s1")
    parser.add_argument("--model3d", default="mdcsrn-t1-k2-psnr")
    parser.add_argument("--model2d", default="srgan-t1-x2-psnr")
    parser.add_argument("--cases", default="sr3d,sr2d")
    parser.add_argument("--ct-models", default="dfgan-ct-qd,attn-dfgan-ct-qd")
    parser.add_argument("--seeds", type=int, default=3, help="CT noise draws per patient")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if "denoise2d" in args.cases.split(",") and args.cases != "denoise2d":
        parser.error("--cases denoise2d runs alone (its results go to their own file)")
    if args.cases == "denoise2d":
        from medsr.demo import DEFAULT_CT_SCANS, package_versions

        ct = run_ct(args.ct_models.split(","), list(DEFAULT_CT_SCANS), args.seeds, args.threads)
        result = {
            "kind": "denoise2d",
            "threads": args.threads,
            "packages": package_versions(),
            **ct,
        }
        lines = [
            f"{label}: ct-window {m['ct-window psnr']:.2f} dB, ldct-bench "
            f"{m['ldct-bench psnr']:.2f} dB, fat / muscle / bone {m['fat_shift']:+.1f} / "
            f"{m['muscle_shift']:+.1f} / {m['bone_shift']:+.1f} HU"
            for label, m in ct["metrics"].items()
        ]
    else:
        ref = _head_crop(catalogue.load(args.scan))
        models = {"sr3d": args.model3d, "sr2d": args.model2d}
        cases = [run_case(k, models[k], ref, args.threads) for k in args.cases.split(",")]
        result = {"scan": args.scan, "threads": args.threads, "cases": cases}
        lines = [
            f"{c['kind']} {c['model']}: +{c['model_over_baseline_db']:.3f} dB over the baseline, "
            f"{c['ensemble_over_baseline_db']:+.3f} with the self-ensemble "
            f"(gain {c['gain_db']:+.3f} dB; {c['seconds']})"
            for c in cases
        ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
