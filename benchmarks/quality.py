"""Quality of the bundled models on the held-out scans of DATA.md, beside the published numbers.

Run ``python benchmarks/quality.py [--out benchmarks/results/quality.json] [--keep DIR]``;
results go into the "Quality of the bundled models" section of ``docs/BENCHMARKS.md``.

Held-out data (never trained on; DATA.md and the recipes in ``configs/bundled/``):

* ``mdcsrn-t1-k2``: pycortex S1 (``pip install --no-deps pycortex==1.4.0``), the whole 256^3 head,
  k-space truncation x2 on H and W;
* ``srgan-t1-x2``: every axial slice of pycortex S1, bicubic x2 decimation;
* ``dfgan-ct-qd``: the two pydicom-data CT patients the model never saw, quarter dose simulated
  in the projection domain, ``--seeds`` noise draws each.

The cases run through the same code as ``medsr demo`` (:func:`medsr.demo.run_demo`), so the
degradations, baselines and protocols are the demo's. Every case is checked to be held out.
The published numbers (``benchmarks/published_numbers.json``) are printed beside ours with the
reason they are or are not comparable.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_MRI = "pycortex_s1"


def summarise(out_dir: Path) -> dict[str, Any]:
    """Per model: mean +- std of each method under each protocol, over its cases."""
    from medsr.metrics.aggregate import read_json, summarize

    rows = read_json(out_dir / "metrics.json")
    cases = {}
    for case_dir in sorted((out_dir / "cases").iterdir()):
        doc = json.loads((case_dir / "case.json").read_text())
        cases[doc["id"]] = doc
    models: dict[str, Any] = {}
    for model in dict.fromkeys(d["model"] for d in cases.values()):
        ids = [i for i, d in cases.items() if d["model"] == model]
        splits = {cases[i]["split"] for i in ids}
        if splits != {"held-out"}:
            raise RuntimeError(f"{model}: a case is not held out ({splits})")
        group = [r for r in rows if r.case in ids]
        curves = {}
        for i in ids:
            name = cases[i].get("gan_weight_curve")
            if name:
                curves[i] = json.loads((out_dir / "cases" / i / name).read_text())
        models[model] = {
            "cases": ids,
            "gan_weight_curves": curves,
            "data_consistency": {i: cases[i]["data_consistency"] for i in ids},
            "summary": [
                {"method": s.method, "protocol": s.protocol, "n": s.n, "mean": s.mean, "std": s.std}
                for s in summarize(group)
            ],
        }
    return models


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results JSON here")
    parser.add_argument("--keep", type=Path, help="keep the volumes and report in this folder")
    parser.add_argument("--seeds", type=int, default=3, help="CT noise draws per patient")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--reuse-ct",
        type=Path,
        help="take the CT models' results from this earlier results file where it has them, "
        "instead of re-running them (for a run where only the MRI models changed)",
    )
    parser.add_argument(
        "--reuse-mri",
        type=Path,
        help="take the MRI models' results from this earlier results file instead of re-running "
        "them (for a run where only the CT models changed)",
    )
    parser.add_argument(
        "--mri-models",
        nargs="+",
        help="with --reuse-mri: re-run these MRI models (a GAN model with its PSNR stage) and take "
        "the others from the earlier file (for a run where only these models' weights changed)",
    )
    args = parser.parse_args(argv)
    if args.mri_models and args.reuse_mri is None:
        parser.error("--mri-models needs --reuse-mri (the file the other MRI models come from)")

    import torch

    from medsr.demo import DEFAULT_CT_SCANS, run_demo

    if args.threads:
        torch.set_num_threads(args.threads)
    work = args.keep or Path(tempfile.mkdtemp(prefix="medsr-quality-"))
    t0 = time.perf_counter()
    from medsr.demo import package_versions

    result: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "packages": package_versions(),
        "models": {},
    }  # packages: of this run (reused results keep their own file's)
    from medsr.artifact.zoo import BUNDLED, available

    mri_models = [  # both stages of each; benchmarks/systems.py measures the demo=False models
        n for n in available() if BUNDLED[n].modality == "MR" and BUNDLED[n].demo
    ]
    rerun = mri_models
    if args.reuse_mri is not None:  # the MRI models' weights unchanged since that file
        unknown = set(args.mri_models or []) - set(mri_models)
        if unknown:
            parser.error(f"--mri-models: not bundled MRI demo models: {sorted(unknown)}")
        rerun = list(args.mri_models or [])
        earlier = json.loads(args.reuse_mri.read_text())
        reused = [  # PSNR stages: in their GAN's
            n for n in earlier["models"]
            if n in mri_models and n not in rerun and not any(
                BUNDLED[r].psnr_model == n or BUNDLED[n].psnr_model == r for r in rerun
            )
        ]  # fmt: skip
        for name in reused:
            result["models"][name] = earlier["models"][name]
        result["mri_reused_from"] = f"{args.reuse_mri.name} ({', '.join(reused)})"
    if rerun:
        mri = run_demo(
            work / "mri", scans=[HELD_OUT_MRI], ct_scans=[], report=args.keep is not None,
            models=rerun,
            precision="fp32",
        )  # fmt: skip
        result["models"].update(summarise(mri.out_dir))
    ct_all = [n for n in available() if BUNDLED[n].modality == "CT" and BUNDLED[n].demo]
    reused: list[str] = []
    if args.reuse_ct is not None:
        earlier = json.loads(args.reuse_ct.read_text())
        reused = [n for n in ct_all if n in earlier["models"]]
        for name in reused:
            result["models"][name] = earlier["models"][name]
        if reused:
            result["ct_reused_from"] = (
                f"{args.reuse_ct.name} ({', '.join(reused)}: weights unchanged since)"
            )
    ct_run = [n for n in ct_all if n not in reused]
    per_seed: dict[str, dict[str, Any]] = {n: {} for n in ct_run}
    for seed in range(args.seeds if ct_run else 0):
        ct = run_demo(
            work / f"ct-seed{seed}", scans=[], ct_scans=list(DEFAULT_CT_SCANS),
            models=ct_run, seed=seed, report=args.keep is not None, benchmark=True,
        )  # fmt: skip
        for name, res in summarise(ct.out_dir).items():
            per_seed[name][f"seed{seed}"] = res
    for name, seeds in per_seed.items():
        if seeds:
            result["models"][name] = _pool_seeds(seeds)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    published = ROOT / "benchmarks" / "published_numbers.json"
    if published.is_file():
        result["published"] = json.loads(published.read_text())
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    for model, res in result["models"].items():
        print(f"\n{model} ({len(res['cases'])} held-out case(s))")
        for s in res["summary"]:
            m, sd = s["mean"], s["std"]
            if "psnr" not in m:  # ct-tissue-hu: HU shifts
                shifts = "  ".join(f"{k} {v:+.1f}" for k, v in m.items() if "ref" not in k)
                print(f"  {s['method']:<22} {s['protocol']:<11} n={s['n']:<2} {shifts}")
                continue
            print(
                f"  {s['method']:<22} {s['protocol']:<11} n={s['n']:<2} PSNR {m['psnr']:6.2f} "
                f"+- {sd['psnr']:.2f}  SSIM {m['ssim']:.4f}  NRMSE {m['nrmse']:.4f}"
            )
    return result


def _pool_seeds(per_seed: dict[str, Any]) -> dict[str, Any]:
    """Mean over noise draws of each method's per-draw means (std over draws and patients)."""
    pooled: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for res in per_seed.values():
        for s in res["summary"]:
            pooled.setdefault((s["method"], s["protocol"]), []).append(s)
    summary = []
    for (method, protocol), items in pooled.items():
        keys = items[0]["mean"].keys()
        mean = {k: sum(i["mean"][k] for i in items) / len(items) for k in keys}
        # variance over all (draw, patient) cases: within-draw variance + spread of draw means
        var = {
            k: sum(i["std"][k] ** 2 + (i["mean"][k] - mean[k]) ** 2 for i in items) / len(items)
            for k in keys
        }
        summary.append(
            {
                "method": method, "protocol": protocol, "n": sum(i["n"] for i in items),
                "mean": mean, "std": {k: v**0.5 for k, v in var.items()},
            }
        )  # fmt: skip
    first = next(iter(per_seed.values()))
    return {"cases": first["cases"], "seeds": len(per_seed), "summary": summary}


if __name__ == "__main__":
    main()
