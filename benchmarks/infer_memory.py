"""Peak memory (RSS) of whole-volume inference on a 256^3 volume, each run in a fresh process.

Run ``python benchmarks/infer_memory.py [--size 256] [--out results.json]``; results go into the
"Inference" section of ``docs/BENCHMARKS.md``. CPU only.

Scenarios (small-width random-init models, so a run takes about a minute on 2 cores; the
accumulator and the output dominate, not the network):

* ``x2``: SRResNet 3D x2 (F=8, 1 block, 3^3 outer kernels), 256^3 -> 512^3, window 64, batch 1.
  Target: peak RSS < 4 GiB.
* ``same``: mDCSRN (growth 8, 2 blocks x 2 units), 256^3 -> 256^3, window 64, batch 2.
  Target: peak RSS < 1.5 GiB.

Each runs through :class:`medsr.infer.Predictor` on a :class:`~medsr.data.Volume` (normalise,
tile, undo, regrid) with the float64 and the float32 accumulator, and through MONAI's
``sliding_window_inference`` on the same network and windows for comparison. Peak RSS is the
child's ``ru_maxrss``; ``baseline`` is its RSS just before inference (interpreter, torch, model,
input volume).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

SCENARIOS: dict[str, dict[str, Any]] = {
    "x2": {
        "model": "srresnet",
        "kwargs": {"spatial_dims": 3, "scale": 2, "features": 8, "num_blocks": 1,
                   "outer_kernel_size": 3},
        "scale": (2, 2, 2), "batch": 1, "target_gib": 4.0,
    },
    "same": {
        "model": "mdcsrn", "kwargs": {"growth": 8, "num_blocks": 2, "num_units": 2},
        "scale": (1, 1, 1), "batch": 2, "target_gib": 1.5,
    },
}  # fmt: skip
ENGINES = ("medsr-float64", "medsr-float32", "monai")


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(name: str, engine: str, size: int, window: int) -> dict[str, Any]:
    """Run one scenario in this process and report its memory."""
    import numpy as np
    import torch

    from medsr.artifact.spec import ModelSpec
    from medsr.data.intensity import IntensityNorm
    from medsr.infer import Predictor
    from medsr.models.generators import GENERATORS
    from medsr.volume import Volume

    sc = SCENARIOS[name]
    torch.manual_seed(0)
    model = GENERATORS.build(sc["model"], **sc["kwargs"]).eval()
    rng = np.random.default_rng(0)
    vol = Volume.from_array(rng.random((size, size, size), dtype=np.float32) * 1000)
    spec = ModelSpec(
        name=sc["model"], spatial_dims=3, scale=sc["scale"], modality="MR",
        intensity=IntensityNorm(kind="percentile"),
    )  # fmt: skip
    base = _rss_kib()
    t = time.perf_counter()
    if engine == "monai":
        from monai.inferers import sliding_window_inference as monai_swi

        unit, _ = spec.intensity.forward(vol.array)
        with torch.inference_mode():
            out = monai_swi(
                torch.from_numpy(unit)[None], [window] * 3, sc["batch"], model,
                overlap=0.25, mode="gaussian",
            )  # fmt: skip
        shape = tuple(out.shape[2:])
    else:
        acc = torch.float32 if engine.endswith("float32") else torch.float64
        pred = Predictor(
            model, spec=spec, window=window, overlap=0.25, batch_size=sc["batch"],
            accumulate_dtype=acc,
        )  # fmt: skip
        shape = pred(vol).shape
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "scenario": name, "engine": engine, "input": [size] * 3, "output": list(shape),
        "baseline_gib": base / 2**20, "peak_gib": peak / 2**20, "seconds": seconds,
        "target_gib": sc["target_gib"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--out", default=None, help="write the results as JSON")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.size, args.window)))
        return
    results = []
    for name in args.scenarios:
        for engine in args.engines:
            cmd = [sys.executable, __file__, "--child", name, engine, "--size", str(args.size),
                   "--window", str(args.window)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{name} {engine}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            res = json.loads(done.stdout.strip().splitlines()[-1])
            results.append(res)
            ok = "ok" if res["peak_gib"] < res["target_gib"] else "ABOVE TARGET"
            print(
                f"{name:5s} {engine:14s} {res['input']} -> {res['output']}: peak "
                f"{res['peak_gib']:.2f} GiB (baseline {res['baseline_gib']:.2f}, target "
                f"< {res['target_gib']}: {ok}) in {res['seconds']:.0f} s"
            )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
