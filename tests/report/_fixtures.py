"""Small synthetic report inputs in the exact layouts of medsr demo / evaluate / train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medsr.io import write_volume
from medsr.metrics.aggregate import CaseResult, write_json
from medsr.volume import Volume

#: The metric values of the demo fixture, per (case, method, protocol); used to check tables.
METRICS: dict[tuple[str, str, str], dict[str, float]] = {}
#: What each task's model does (the first part of a case title, as medsr demo writes it).
TASK_TITLES = {
    "sr3d": "synthetic 3D MR, k-space truncation",
    "sr2d": "synthetic 2D MR slices, x2 super-resolution",
    "denoise2d": "synthetic low-dose CT denoising",
}


def canonical_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """An affine with D -> superior, H -> anterior, W -> right (read back unchanged)."""
    a = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 3] = spacing[0], spacing[1], spacing[2], 1.0
    return a


def phantom(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A head-like phantom: an ellipsoid with inner structures and texture, values in [0, 1]."""
    rng = np.random.default_rng(seed)
    d, h, w = (np.linspace(-1, 1, n) if n > 1 else np.zeros(1) for n in shape)
    zz, yy, xx = np.meshgrid(d, h, w, indexing="ij")
    head = (zz / 0.9) ** 2 + (yy / 0.85) ** 2 + (xx / 0.75) ** 2 < 1
    inner = (zz / 0.6) ** 2 + ((yy - 0.1) / 0.5) ** 2 + (xx / 0.45) ** 2 < 1
    stripes = 0.15 * (np.sin(xx * 14) > 0)
    img = 0.45 * head + 0.3 * inner + stripes * inner + 0.02 * rng.standard_normal(shape)
    return np.clip(img, 0, 1).astype(np.float32)


def blur(a: np.ndarray, k: int) -> np.ndarray:
    """Box blur of width ``k`` along the last two axes."""
    out = a.copy()
    for axis in (-1, -2):
        out = sum(np.roll(out, s, axis=axis) for s in range(-(k // 2), k // 2 + 1)) / (
            2 * (k // 2) + 1
        )
    return out.astype(np.float32)


def _write(folder: Path, name: str, arr: np.ndarray, spacing, modality: str) -> str:
    vol = Volume(
        array=arr[None],
        spacing=spacing,
        affine=canonical_affine(spacing),
        modality=modality,
        unit="HU" if modality == "CT" else "a.u.",
    )
    write_volume(vol, folder / name)
    return name


def _metrics(pred: np.ndarray, ref: np.ndarray, data_range: float) -> dict[str, float]:
    err = pred.astype(np.float64) - ref
    mse = float(np.mean(err**2))
    return {
        "psnr": float(10 * np.log10(data_range**2 / mse)),
        "ssim": float(1 / (1 + 100 * mse / data_range**2)),
        "nrmse": float(np.sqrt(mse) / np.sqrt(np.mean(ref.astype(np.float64) ** 2))),
        "mae": float(np.mean(np.abs(err))),
    }


def make_case(
    root: Path,
    case_id: str,
    *,
    task: str,
    modality: str,
    split: str,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    seed: int,
    training_log: Path | None = None,
    dc: dict[str, float] | None = None,
) -> list[CaseResult]:
    """Write one case folder; return its metric rows (two protocols)."""
    folder = root / "cases" / case_id
    folder.mkdir(parents=True)
    ref = phantom(shape, seed)
    if modality == "CT":
        ref = ref * 1400 - 1000
        noise = np.random.default_rng(seed + 1).standard_normal(shape).astype(np.float32)
        lq = ref + 120 * noise
        window = [-160.0, 240.0]
        protocols = ("ct-window", "unit-range")
        model = "ct-denoiser"
        baselines = ["low-dose", "gaussian"]
        methods = {"low-dose": lq, "gaussian": blur(lq, 3), model: 0.7 * ref + 0.3 * blur(lq, 3)}
        input_method = "low-dose"
    elif task == "sr2d":  # a 2D model on the axial slices; the input is nearest-upsampled
        lq = blur(ref, 5)
        window = [0.0, 1.0]
        protocols = ("brain-mask", "unit-range")
        model = "srgan-t1-x2"
        baselines = ["nearest", "cubic"]
        methods = {"nearest": lq, "cubic": blur(ref, 3), model: 0.6 * ref + 0.4 * blur(ref, 3)}
        input_method = "nearest"
    else:
        lq = blur(ref, 5)
        window = [0.0, 1.0]
        protocols = ("brain-mask", "unit-range")
        model = "mdcsrn-t1-k2"
        baselines = ["zero-filled", "cubic", "nearest"]
        methods = {
            "zero-filled": lq,
            "cubic": blur(ref, 3),
            "nearest": blur(ref, 7),
            model: 0.5 * ref + 0.5 * blur(ref, 3),
        }
        input_method = "zero-filled"
    files = {
        "reference": _write(folder, "reference.nii.gz", ref, spacing, modality),
        "input": _write(folder, "input.nii.gz", lq, spacing, modality),
        "methods": {},
    }
    for name, arr in methods.items():
        fname = "input.nii.gz" if name == input_method else f"{name}.nii.gz"
        if fname != "input.nii.gz":
            _write(folder, fname, arr.astype(np.float32), spacing, modality)
        files["methods"][name] = fname
    rows = []
    for p, protocol in enumerate(protocols):
        for name, arr in methods.items():
            m = _metrics(arr, ref, 400.0 if protocol == "ct-window" else float(np.ptp(ref)))
            m = {k: v * (1 + 0.01 * p) for k, v in m.items()}
            METRICS[(case_id, name, protocol)] = m
            rows.append(CaseResult(case_id, name, protocol, m))
    case = {
        "id": case_id,
        "scan": f"phantom_{seed}",
        "title": f"{TASK_TITLES[task]}: {model} on phantom_{seed}",
        "task": task,
        "modality": modality,
        "unit": "HU" if modality == "CT" else "a.u.",
        "split": split,
        "model": model,
        "baselines": baselines,
        "input_label": {
            "denoise2d": "low-dose input",
            "sr2d": "x2 decimated slices (nearest-upsampled)",
        }.get(task, "low-resolution input (zero-filled k-space)"),
        "files": files,
        "display_window": window,
        "primary_protocol": protocols[0],
        "primary_metric": "psnr",
        "data_consistency": dc,
        "training_log": None,
    }
    if training_log is not None:
        (folder / "training_log.jsonl").write_text(training_log.read_text())
        case["training_log"] = "training_log.jsonl"
    (folder / "case.json").write_text(json.dumps(case, indent=1))
    return rows


def make_train_run(folder: Path, *, steps: int = 60, finished: bool = True) -> Path:
    """A fake ``medsr train`` folder: log.jsonl (+ summary.json and config.yaml when finished)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    lines = [
        {"time": 0.1, "step": 0, "event": "checkpoint", "path": "ckpt_0.pt"},
        {
            "time": 0.2,
            "step": 0,
            "event": "baseline",
            "psnr": 28.0,
            "ssim": 0.88,
            "nrmse": 0.08,
            "mae": 4.5,
        },
    ]
    for s in range(1, steps + 1):
        g = 0.5 * np.exp(-s / 20) + 0.02 + 0.01 * rng.random()
        lines.append(
            {
                "time": s * 0.5,
                "step": s,
                "g_pixel": g,
                "g_adv": 0.001 * rng.random() + 1e-4,
                "g_total": g + 0.001,
                "d_loss": float(rng.standard_normal()),
                "pred_std": 0.2,
                "lr_generator": 5e-4,
            }
        )
        if s % 20 == 0:
            lines.append(
                {
                    "time": s * 0.5,
                    "step": s,
                    "event": "validation",
                    "psnr": 20 + s / 10,
                    "ssim": 0.7 + s / 1000,
                    "nrmse": 0.3 - s / 1000,
                    "mae": 20 - s / 10,
                    "improved": True,
                }
            )
    text = "\n".join(json.dumps(x) for x in lines) + "\n"
    if not finished:
        text += '{"time": 99.0, "step": 6'  # a partial last line, as while training runs
    (folder / "log.jsonl").write_text(text)
    if finished:
        (folder / "summary.json").write_text(
            json.dumps({"steps": steps, "seconds": 31.0, "best_step": steps})
        )
        (folder / "config.yaml").write_text(
            "name: mdcsrn_wgangp\nnetworks:\n  generator:\n    name: mdcsrn\n    kwargs: {}\n"
        )
    return folder / "log.jsonl"


def make_demo(root: Path, *, with_train_log: bool = True) -> Path:
    """A demo folder with three models of different tasks, as ``medsr demo`` writes it.

    * ``mr3d`` and ``mr3b``: sr3d cases of ``mdcsrn-t1-k2`` (anisotropic volumes; ``mr3d`` a
      training scan with a training log and data consistency);
    * ``ct2d``: a single CT image of shape ``(1, H, W)`` for ``ct-denoiser`` (denoise2d);
    * ``mr2d``: a whole volume for ``srgan-t1-x2`` (sr2d, a 2D model run slice by slice
      along ``D``), with ``W`` its thinnest axis.

    ``cubic`` and ``nearest`` are baselines of both MR models: pooled, they would mix the
    3D and the 2D task.
    """
    root.mkdir(parents=True, exist_ok=True)
    log = make_train_run(root.parent / f"{root.name}_trainrun") if with_train_log else None
    rows = make_case(
        root,
        "mr3d",
        task="sr3d",
        modality="MR",
        split="train",
        shape=(12, 40, 34),
        spacing=(3.0, 1.0, 1.2),
        seed=0,
        training_log=log,
        dc={"before": 0.31, "after": 2.1e-7},
    )
    rows += make_case(
        root,
        "ct2d",
        task="denoise2d",
        modality="CT",
        split="held-out",
        shape=(1, 48, 48),
        spacing=(5.0, 0.7, 0.7),
        seed=1,
    )
    rows += make_case(
        root,
        "mr2d",
        task="sr2d",
        modality="MR",
        split="held-out",
        shape=(20, 36, 16),
        spacing=(1.5, 0.9, 1.0),
        seed=2,
    )
    rows += make_case(
        root,
        "mr3b",
        task="sr3d",
        modality="MR",
        split="held-out",
        shape=(10, 32, 28),
        spacing=(3.0, 1.0, 1.2),
        seed=3,
    )
    write_json(root / "metrics.json", rows)
    run = {
        "kind": "medsr-demo",
        "medsr_version": "0.0.test",
        "seconds": 12.5,
        "hardware": "2 CPU cores (test)",
        "cases": ["mr3d", "ct2d", "mr2d", "mr3b"],
        "notes": ["synthetic fixture for the report tests"],
    }
    (root / "run.json").write_text(json.dumps(run))
    return root


#: The --gan-weight curve of :func:`add_psnr_stage`, per protocol: (A, psnr, ssim, hfen).
CURVE = {
    "brain-mask": [
        (0.0, 31.5, 0.951, 0.21),
        (0.25, 31.2, 0.948, 0.19),
        (0.5, 30.8, 0.944, 0.18),
        (0.75, 30.3, 0.939, 0.175),
        (1.0, 29.9, 0.933, 0.172),
    ],
    "unit-range": [
        (0.0, 35.1, 0.971, 0.22),
        (0.25, 34.8, 0.969, 0.2),
        (0.5, 34.4, 0.966, 0.19),
        (0.75, 33.9, 0.962, 0.185),
        (1.0, 33.5, 0.958, 0.181),
    ],
}


def add_psnr_stage(root: Path, case_id: str = "mr3d", *, curve: bool = True) -> Path:
    """Fold a PSNR stage ``mdcsrn-t1-k2-psnr`` into a sr3d case of :func:`make_demo`, as
    ``medsr demo`` does when both stages are installed: its volume (and a ``(no DC)`` twin),
    its metric rows (every row of the case gains HFEN), ``models``, ``psnr_model``, per-model
    data consistency and, if ``curve``, ``gan_weight_curve.json`` (values of :data:`CURVE`).
    :data:`METRICS` is left as :func:`make_demo` wrote it."""
    from medsr.metrics.aggregate import read_json

    folder = root / "cases" / case_id
    case = json.loads((folder / "case.json").read_text())
    ref = phantom((12, 40, 34), 0)
    spacing = (3.0, 1.0, 1.2)
    psnr = "mdcsrn-t1-k2-psnr"
    extra = {
        psnr: 0.8 * ref + 0.2 * blur(ref, 3),
        f"{psnr} (no DC)": 0.7 * ref + 0.3 * blur(ref, 5),
    }
    for name, arr in extra.items():
        fname = name.replace(" (no DC)", "_no_DC") + ".nii.gz"
        _write(folder, fname, arr.astype(np.float32), spacing, "MR")
        case["files"]["methods"][name] = fname
    rows = read_json(root / "metrics.json")
    protocols = list(dict.fromkeys(r.protocol for r in rows if r.case == case_id))
    out = []
    for r in rows:
        if r.case == case_id:
            m = {**r.metrics, "hfen": 0.5 - 0.004 * r.metrics["psnr"]}
            r = CaseResult(r.case, r.method, r.protocol, m)
        out.append(r)
    for p, protocol in enumerate(protocols):
        for name, arr in extra.items():
            m = _metrics(arr, ref, float(np.ptp(ref)))
            m = {k: v * (1 + 0.01 * p) for k, v in m.items()}
            m["hfen"] = 0.5 - 0.004 * m["psnr"]
            out.append(CaseResult(case_id, name, protocol, m))
    write_json(root / "metrics.json", out, overwrite=True)
    case["models"] = [case["model"], psnr]
    case["psnr_model"] = psnr
    case["data_consistency_models"] = {
        case["model"]: case["data_consistency"],
        psnr: {"before": 0.27, "after": 3.4e-7},
    }
    case["gan_weight_curve"] = None
    if curve:
        per = {
            name: [{"gan_weight": a, "psnr": p, "ssim": s, "hfen": h} for a, p, s, h in pts]
            for name, pts in CURVE.items()
        }
        doc = {
            "kind": "medsr-gan-weight-curve",
            "model": case["model"],
            "psnr_model": psnr,
            "protocol": "brain-mask",
            "metrics": ["psnr", "ssim", "hfen"],
            "crop": {"kind": "centre-box", "text": "central 12x40x34 voxels (D x H x W)"},
            "evaluation": "the crop evaluated as one 3D image",
            "data_consistency": False,
            "command": f"medsr enhance IN --model {case['model']} --gan-weight A -o OUT",
            "points": per["brain-mask"],
            "per_protocol": per,
        }
        (folder / "gan_weight_curve.json").write_text(json.dumps(doc, indent=1))
        case["gan_weight_curve"] = "gan_weight_curve.json"
    (folder / "case.json").write_text(json.dumps(case, indent=1))
    return root
