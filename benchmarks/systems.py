"""Held-out quality of the bundled models the demo does not run (their own degradation).

Run ``python benchmarks/systems.py [--out benchmarks/results/systems.json] [--models A B]``;
``scripts/model_cards.py`` puts the tables into the models' cards and the "Quality of the bundled
models" section of ``docs/BENCHMARKS.md`` beside ``benchmarks/quality.py``'s.

Each model (``BundledModel.demo`` is False: DISGAN, the 3-player GAN, ESRGAN, SRResCycGAN, the
SRGAN x3 of the X-ray/MRI report) is measured on held-out scans only (DATA.md): pycortex S1 for
the brain models, the two pydicom-data radiographs too for the x3 model that trains on both. The
input is made with the degradation recorded in the model's checkpoint (what ``medsr degrade
--like MODEL`` runs; noise in network units through the training pipeline, seed 0) and, for a recipe that resamples every slice (``data.resize``, the x3
report's 150x150), from the reference resampled the same way. Baselines: nearest, linear and
cubic upsampling of the same input. A GAN model with a PSNR partner is measured beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_BRAIN = ("pycortex_s1",)
HELD_OUT_XRAY = ("xray_chest", "xray_tibia")
UPSAMPLERS = ("nearest", "linear", "cubic")
_OUTPUTS: dict[tuple[str, str], Any] = {}  # (model, scan) -> output, within one run


def held_out_scans(config: dict[str, Any]) -> list[str]:
    """The held-out scans of a model: brain MRI, plus radiographs when it trains on any."""
    from medsr.data import catalogue

    train = [s["scan"] for s in config["data"]["train"]]
    scans = list(HELD_OUT_BRAIN)
    if any(catalogue.get(s).modality == "XR" for s in train):
        scans += HELD_OUT_XRAY
    for scan in scans:
        if catalogue.get(scan).role != "test" or scan in train:
            raise RuntimeError(f"{scan} is not a held-out scan of this model")
    return scans


def reference(scan: str, config: dict[str, Any], factor: tuple[int, ...]) -> Any:
    """The held-out reference: resampled as the recipe resamples (``data.resize``), then cropped
    to a multiple of the scale."""
    from medsr.data import catalogue

    return resampled(catalogue.load(scan), config, factor)


def resampled(vol: Any, config: dict[str, Any], factor: tuple[int, ...]) -> Any:
    """``vol`` resampled as the recipe resamples (``data.resize``), then cropped to a multiple of
    the scale (a mask follows its scan this way)."""
    from medsr.data.datasets import resize_slices
    from medsr.demo_cases import crop_to_multiple
    from medsr.geometry import affine_from_spacing
    from medsr.volume import Volume

    resize = config["data"].get("resize")
    if resize:
        spacing = list(vol.spacing)
        arr, spacing[1:] = resize_slices(
            np.asarray(vol.array, dtype=np.float32),
            resize["size"],
            square_crop=bool(resize.get("square_crop")),
            spacing=spacing[1:],
        )
        vol = Volume(  # a new grid: the resampled slices keep the first voxel's corner
            arr, spacing=(spacing[0], spacing[1], spacing[2]), affine=affine_from_spacing(spacing),
            modality=vol.modality, unit=vol.unit, meta=vol.meta,
        )  # fmt: skip
    return crop_to_multiple(vol, factor)


def run_model_cases(model: str, say: Any = print) -> dict[str, Any]:
    """Every held-out case of one model (and its PSNR partner): metrics summarised per protocol."""
    from medsr.artifact.checkpoint import load_checkpoint
    from medsr.artifact.zoo import BUNDLED, bundled_path
    from medsr.baselines import run_baseline
    from medsr.degrade.recorded import kinds_of_stages
    from medsr.metrics.aggregate import summarize
    from medsr.metrics.pairs import evaluate_volumes

    entry = BUNDLED[model]
    config = load_checkpoint(bundled_path(model)).config or {}
    factor = tuple(int(f) for f in config["task"]["scale"])
    recorded = config["data"]["degradation"]
    network_units = recorded.get("units", "scanner") == "network"
    steps = [] if network_units else kinds_of_stages(recorded, model=model)
    models = [m for m in (entry.psnr_model, model) if m]
    rows = []
    cases = []
    for scan in held_out_scans(config):
        say(f"{model}: {scan}")
        ref = reference(scan, config, factor)
        low = degraded(ref, config, steps, factor)
        methods = {name: run_baseline(name, low, scale=factor) for name in UPSAMPLERS}
        for m in models:
            t0 = time.perf_counter()
            if (m, scan) not in _OUTPUTS:  # a PSNR stage shared by two GAN models runs once
                # a model trained on radiographs too (the x3 report's) takes them as they come
                # (its checkpoint says MR, one modality)
                _OUTPUTS[(m, scan)] = predictor(m, entry.task, low.shape)(low, force=True)
            methods[m] = _OUTPUTS[(m, scan)]
            say(f"  {m}: {time.perf_counter() - t0:.1f} s")
        case = f"{scan}-{model}"
        cases.append(case)
        protocols = ("brain-mask", "unit-range") if ref.modality == "MR" else ("unit-range",)
        for protocol in protocols:
            for method, pred in methods.items():
                rows += evaluate_volumes(
                    [pred], [ref], protocol=protocol, method=method, cases=[case]
                )
    summary = []
    for modality_cases in _groups(cases):
        group = [r for r in rows if r.case in modality_cases]
        summary += [
            {
                "method": s.method,
                "protocol": s.protocol,
                "n": s.n,
                "mean": s.mean,
                "std": s.std,
                "group": "radiographs" if modality_cases[0].startswith("xray") else "brain MRI",
            }
            for s in summarize(group)
        ]
    return {
        "cases": cases,
        "degradation": config["data"]["degradation"],
        "resize": config["data"].get("resize"),
        "summary": summary,
        "rows": [
            {"case": r.case, "method": r.method, "protocol": r.protocol, **r.metrics} for r in rows
        ],
    }


def degraded(
    ref: Any,
    config: dict[str, Any],
    steps: list[tuple[str, dict[str, Any]]],
    factor: tuple[int, ...],
) -> Any:
    """The model's input made from ``ref`` with its recorded degradation (seed 0).

    Scanner-unit stages run as ``medsr degrade --like`` does (``steps``). Stages in network units
    (noise relative to each scan's intensity scale, e.g. SRResCycGAN's Rician noise) run through
    the training pipeline itself (:func:`medsr.train.data.degrader_of`) with the reference's
    normalisation state, as training computes it; the grid is the decimated one."""
    from medsr.config.load import config_from_plain
    from medsr.degrade.apply import degrade_volume
    from medsr.degrade.volumes import downsample_volume
    from medsr.train.data import degrader_of, intensity_of

    rng = np.random.default_rng(0)
    if steps:
        low = ref
        for kind, params in steps:
            low = degrade_volume(low, kind=kind, rng=rng, params=params)
        return low
    cfg = config_from_plain(config, validate=False)
    degrader = degrader_of(cfg)
    assert degrader is not None
    _, state = intensity_of(cfg).forward(ref.array)
    arr = degrader(ref.array, rng=rng, spacing=tuple(ref.spacing), state=state)
    return downsample_volume(ref, factor=factor, method="area").with_array(arr)


def predictor(model: str, task: str, shape: tuple[int, ...]) -> Any:
    """The demo's predictor, with windows of <= 48^3 input voxels for a 3D model that upsamples
    (its dense blocks at the output size would need several GB per window otherwise)."""
    from medsr.demo_cases import make_predictor
    from medsr.infer.engines import load_engine
    from medsr.infer.predictor import Predictor
    from medsr.nn.sliding_window import balanced_windows

    if task != "sr3d":
        return make_predictor(model, task, shape, "fp32")
    net, spec = load_engine(model)
    win, ov = balanced_windows(shape, max_window=48, min_overlap=8)
    return Predictor(net, spec=spec, window=win, overlap=ov, batch_size=1)


def _groups(cases: list[str]) -> list[list[str]]:
    """Cases pooled per modality: brain MRI apart from radiographs."""
    brain = [c for c in cases if any(c.startswith(s) for s in HELD_OUT_BRAIN)]
    xray = [c for c in cases if c not in brain]
    return [g for g in (brain, xray) if g]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write (merge into) the results JSON here")
    parser.add_argument("--models", nargs="*", help="bundled models (default: every demo=False)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from medsr.artifact.zoo import BUNDLED, available

    if args.threads:
        torch.set_num_threads(args.threads)
    partners = {m.psnr_model for m in BUNDLED.values()}
    wanted = args.models or [n for n in available() if not BUNDLED[n].demo and n not in partners]
    result: dict[str, Any] = {"models": {}}
    if args.out and args.out.is_file():
        result = json.loads(args.out.read_text())
    result["threads"] = torch.get_num_threads()
    for model in wanted:
        t0 = time.perf_counter()
        res = run_model_cases(model)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        result["models"][model] = res
        for s in res["summary"]:
            m = s["mean"]
            print(
                f"  {model:<20} {s['method']:<20} {s['protocol']:<11} n={s['n']} "
                f"PSNR {m['psnr']:6.2f} SSIM {m['ssim']:.4f} HFEN {m.get('hfen', float('nan')):.4f}"
            )
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
