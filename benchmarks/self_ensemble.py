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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from medsr.data import catalogue

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", default="pycortex_s1")
    parser.add_argument("--model3d", default="mdcsrn-t1-k2-psnr")
    parser.add_argument("--model2d", default="srgan-t1-x2-psnr")
    parser.add_argument("--cases", default="sr3d,sr2d")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    ref = _head_crop(catalogue.load(args.scan))
    models = {"sr3d": args.model3d, "sr2d": args.model2d}
    cases = [run_case(k, models[k], ref, args.threads) for k in args.cases.split(",")]
    result = {"scan": args.scan, "threads": args.threads, "cases": cases}
    for c in cases:
        print(
            f"{c['kind']} {c['model']}: +{c['model_over_baseline_db']:.3f} dB over the baseline, "
            f"{c['ensemble_over_baseline_db']:+.3f} with the self-ensemble "
            f"(gain {c['gain_db']:+.3f} dB; {c['seconds']})"
        )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
