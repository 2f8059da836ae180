"""Bundled trained models: loadable by name (``--model mdcsrn-t1-k2``), shipped inside the package.

Each bundled model is a medsr checkpoint (format 1, generator weights stored as float16 to keep the
package small; they load into float32 models) plus a JSON card with its training record (recipe,
steps, time, hardware, a thinned training log). Both live in ``medsr/weights/``; the human-readable
model cards are ``docs/models/<name>.md`` and ``scripts/train_bundled.py NAME`` reproduces a model
from its recipe in ``configs/bundled/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsr.errors import InputError

#: The repository root when running from a checkout (recipes live in ``configs/bundled/``).
ROOT_HINT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class BundledModel:
    """One bundled model: its name, files, recipe and what it does."""

    name: str
    task: str  # "sr3d" | "sr2d" | "denoise2d"
    modality: str
    summary: str
    config: str  # recipe, relative to the repository root
    system: str  # the published system: "mdcsrn-wgan-gp", "srgan", "dfgan", ...
    generator: str  # generator registry key
    stage: str  # "psnr" (content loss only) or "gan"
    psnr_model: str = ""  # for a GAN stage: the content-loss model it was fine-tuned from
    ship: str = (
        "model.pt"  # the run's checkpoint that ships: best.pt (validation) or model.pt (last)
    )
    comparison: bool = False  # a published baseline kept for comparison: not in the default demo
    #: ``medsr demo`` runs the model (its degradation is one of the demo's three fixed ones);
    #: the others are measured by ``benchmarks/systems.py`` through their recorded degradation
    demo: bool = True
    #: Generator options set when the run is bundled, on top of the trained ones. Only options
    #: without weights qualify (e.g. DFGAN's ``keep_low_band``), chosen on training-side scans;
    #: recorded in the card as ``bundle_kwargs``.
    bundle_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def weights_file(self) -> str:
        return f"{self.name}.pt"

    @property
    def card_file(self) -> str:
        return f"{self.name}.json"

    @property
    def doc(self) -> str:
        return f"docs/models/{self.name}.md"


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="mdcsrn-t1-k2-psnr",
            task="sr3d",
            modality="MR",
            summary="mDCSRN, content-loss stage: 3D T1 brain MRI, k-space truncation x2 on H and W (same grid)",
            config="configs/bundled/mdcsrn_t1_k2_psnr.yaml",
            system="mdcsrn-wgan-gp",
            generator="mdcsrn",
            stage="psnr",
            ship="best.pt",
        ),
        BundledModel(
            name="mdcsrn-t1-k2",
            task="sr3d",
            modality="MR",
            summary="mDCSRN-WGAN-GP, 3D T1 brain MRI, k-space truncation x2 on H and W (same grid)",
            config="configs/bundled/mdcsrn_t1_k2.yaml",
            system="mdcsrn-wgan-gp",
            generator="mdcsrn",
            stage="gan",
            psnr_model="mdcsrn-t1-k2-psnr",
        ),
        BundledModel(
            name="mdcsrn-t1-k2-wgan",
            task="sr3d",
            modality="MR",
            summary="mDCSRN-WGAN (weight clipping, the study's baseline), 3D T1 brain MRI, k-space x2",
            config="configs/bundled/mdcsrn_t1_k2_wgan.yaml",
            system="mdcsrn-wgan",
            generator="mdcsrn",
            stage="gan",
            psnr_model="mdcsrn-t1-k2-psnr",
            comparison=True,
        ),
        BundledModel(
            name="srgan-t1-x2-psnr",
            task="sr2d",
            modality="MR",
            summary="SRResNet x2 (MSE stage of SRGAN), 2D T1 brain slices, bicubic x2 degradation",
            config="configs/bundled/srgan_t1_x2_psnr.yaml",
            system="srgan",
            generator="srresnet",
            stage="psnr",
            ship="best.pt",
        ),
        BundledModel(
            name="srgan-t1-x2",
            task="sr2d",
            modality="MR",
            summary="SRGAN x2 (SRResNet, 8 blocks), 2D T1 brain slices, bicubic x2 degradation",
            config="configs/bundled/srgan_t1_x2.yaml",
            system="srgan",
            generator="srresnet",
            stage="gan",
            psnr_model="srgan-t1-x2-psnr",
        ),
        BundledModel(
            name="dfgan-ct-qd",
            task="denoise2d",
            modality="CT",
            summary="DFGAN, quarter-dose CT slices (HU), difference-map discriminator",
            config="configs/bundled/dfgan_ct_qd.yaml",
            system="dfgan",
            generator="dfgan_unet",
            stage="gan",
            ship="best.pt",  # the best validation step on training-side CT slices
        ),
        BundledModel(
            name="srgan-x3",
            task="sr2d",
            modality="MR",
            summary="SRGAN x3 of the brain-MRI / chest X-ray report: 150x150 slices and radiographs",
            config="configs/bundled/srgan_x3.yaml",
            system="srgan",
            generator="srresnet",
            stage="gan",
            demo=False,
        ),
        BundledModel(
            name="esrgan-t1-x4",
            task="sr2d",
            modality="MR",
            summary="ESRGAN x4 (RRDB, relativistic GAN), 2D T1 brain slices, bicubic x4 degradation",
            config="configs/bundled/esrgan_t1_x4.yaml",
            system="esrgan",
            generator="rrdbnet",
            stage="gan",
            demo=False,
        ),
        BundledModel(
            name="srrescycgan-t1-x4",
            task="sr2d",
            modality="MR",
            summary="SRResCycGAN x4 (cycle-consistent, two generators), 2D T1 slices, bicubic x4",
            config="configs/bundled/srrescycgan_t1_x4.yaml",
            system="srrescycgan",
            generator="srrescgan",
            stage="gan",
            demo=False,
        ),
        BundledModel(
            name="srrescycgan-t1-x4-unpaired",
            task="sr2d",
            modality="MR",
            summary="SRResCycGAN x4 trained on unpaired domains, 2D T1 slices, bicubic x4",
            config="configs/bundled/srrescycgan_t1_x4_unpaired.yaml",
            system="srrescycgan",
            generator="srrescgan",
            stage="gan",
            demo=False,
            ship="best.pt",
        ),
        BundledModel(
            name="disgan-t1-x2-psnr",
            task="sr3d",
            modality="MR",
            summary="DISGAN generator, L1 stage: 3D T1 brain, k-space truncation x2 (coarse grid)",
            config="configs/bundled/disgan_t1_x2_psnr.yaml",
            system="disgan",
            generator="rrdbnet",
            stage="psnr",
            ship="best.pt",
            demo=False,
        ),
        BundledModel(
            name="disgan-t1-x2",
            task="sr3d",
            modality="MR",
            summary="DISGAN x2 (wavelet U-Net discriminator), 3D T1 brain, k-space x2 (coarse grid)",
            config="configs/bundled/disgan_t1_x2.yaml",
            system="disgan",
            generator="rrdbnet",
            stage="gan",
            psnr_model="disgan-t1-x2-psnr",
            demo=False,
        ),
        BundledModel(
            name="threeplayer-t1-x2",
            task="sr3d",
            modality="MR",
            summary="3-player GAN x2 (trained feature extractor), 3D T1 brain, k-space x2 (coarse grid)",
            config="configs/bundled/threeplayer_t1_x2.yaml",
            system="threeplayer-gan",
            generator="rrdbnet",
            stage="gan",
            psnr_model="disgan-t1-x2-psnr",
            demo=False,
        ),
        BundledModel(
            name="attn-dfgan-ct-qd",
            task="denoise2d",
            modality="CT",
            summary="AttnDFGAN (CBAM U-Net), quarter-dose CT slices (HU), difference-map discriminator",
            config="configs/bundled/attn_dfgan_ct_qd.yaml",
            system="attn-dfgan",
            generator="attn_dfgan_unet",
            stage="gan",
            ship="best.pt",  # the best validation step on training-side CT slices
        ),
    )
}


def weights_dir() -> Path:
    """The package folder holding the bundled weights (``MEDSR_WEIGHTS_DIR`` overrides it)."""
    override = os.environ.get("MEDSR_WEIGHTS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "weights"


def is_bundled_name(ref: str | os.PathLike[str]) -> bool:
    """Whether ``ref`` names a bundled model (and is not an existing file of that name)."""
    s = str(ref)
    return s in BUNDLED and not Path(s).exists()


def bundled_path(name: str) -> Path:
    """Path of a bundled model's checkpoint.

    Raises:
        InputError: Unknown name, or weights missing from this install.
    """
    if name not in BUNDLED:
        raise InputError(name, f"not a bundled model; bundled: {', '.join(sorted(BUNDLED))}")
    path = weights_dir() / BUNDLED[name].weights_file
    if not path.is_file():
        raise InputError(
            path,
            f"bundled model {name!r} is missing from this install; reinstall medsr "
            f"(pip install .) or rebuild it: python scripts/train_bundled.py {name}",
        )
    return path


def resolve_model(ref: str | os.PathLike[str]) -> Path:
    """A checkpoint path from a bundled model name or a path (returned unchanged)."""
    return bundled_path(str(ref)) if is_bundled_name(ref) else Path(ref)


def read_card(name: str) -> dict[str, Any]:
    """The training record shipped next to a bundled model (``{}`` when absent)."""
    path = weights_dir() / BUNDLED[name].card_file
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"unreadable model card ({exc})") from None
    return data if isinstance(data, dict) else {}


def available() -> list[str]:
    """Names of the bundled models whose weights are installed."""
    return [n for n, m in BUNDLED.items() if (weights_dir() / m.weights_file).is_file()]


def thin_log(lines: list[dict[str, Any]], *, max_steps: int = 400) -> list[dict[str, Any]]:
    """A training log shortened for shipping: every event row, and about ``max_steps`` step rows.

    Step rows are averaged over consecutive blocks (losses are noisy; the mean keeps the curve's
    level), keyed by the block's last step.
    """
    steps = [r for r in lines if "event" not in r and "step" in r]
    events = [r for r in lines if "event" in r]
    block = max(1, -(-len(steps) // max_steps))
    thinned: list[dict[str, Any]] = []
    for start in range(0, len(steps), block):
        chunk = steps[start : start + block]
        keys = [k for k, v in chunk[-1].items() if isinstance(v, int | float)]
        row: dict[str, Any] = {}
        for k in keys:
            vals = [float(r[k]) for r in chunk if isinstance(r.get(k), int | float)]
            row[k] = sum(vals) / len(vals) if k not in ("step", "time") else chunk[-1][k]
        thinned.append(row)
    merged = thinned + events
    merged.sort(key=lambda r: (float(r.get("step", 0)), "event" in r))
    return merged


def bundle_run(
    run_dir: str | os.PathLike[str],
    name: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    record: dict[str, Any] | None = None,
    checkpoint: str | None = None,
) -> tuple[Path, Path]:
    """Turn a finished training run into a bundled model: float16 weights + JSON card.

    The shipped weights are the model's :attr:`BundledModel.ship` checkpoint unless ``checkpoint``
    says otherwise: ``best.pt`` (the best validation step; the recipes validate on a training-side
    subject, never on a held-out scan) for the content-loss models, ``model.pt`` (the last step)
    for the GAN stages, whose validation PSNR would favour the least adversarial step.

    Args:
        run_dir: The ``medsr train`` output folder.
        name: Bundled model name (a key of :data:`BUNDLED`).
        out_dir: Where to write (default: the package weights folder).
        record: Extra facts for the card (hardware, threads, wall time, command).
        checkpoint: Which checkpoint of the run to ship.

    Returns:
        ``(weights_path, card_path)``.
    """
    import torch

    from medsr.artifact.checkpoint import load_checkpoint, save_checkpoint
    from medsr.io.atomic import write_text_atomic

    if name not in BUNDLED:
        raise InputError(name, f"not a bundled model; bundled: {', '.join(sorted(BUNDLED))}")
    run = Path(run_dir)
    checkpoint = checkpoint or BUNDLED[name].ship
    ckpt = load_checkpoint(run / checkpoint)
    ckpt.state_dict = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in ckpt.state_dict.items()
    }
    ckpt.train_state = None
    extra_kwargs = dict(BUNDLED[name].bundle_kwargs)
    if extra_kwargs:  # options without weights: the state dict must load unchanged
        ckpt.model_kwargs = {**ckpt.model_kwargs, **extra_kwargs}
        ckpt.build_model()  # loads the weights: InputError when the options need others
    dest = Path(out_dir) if out_dir is not None else weights_dir()
    dest.mkdir(parents=True, exist_ok=True)
    weights = save_checkpoint(ckpt, dest / BUNDLED[name].weights_file)
    log_path = run / "log.jsonl"
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    summary = {  # machine-local paths stay out of the package
        k: v for k, v in summary.items() if k not in ("run_dir", "model_path", "last_checkpoint")
    }
    cfg_data = ckpt.config.get("data") or {}
    segments: list[float] = [
        0.0
    ]  # wall time per process segment (the log's clock restarts on resume)
    for row in lines:
        if row.get("event") == "resume":
            segments.append(0.0)
        if isinstance(row.get("time"), int | float):
            segments[-1] = max(segments[-1], float(row["time"]))
    card = {
        "name": name,
        "summary": BUNDLED[name].summary,
        "recipe": BUNDLED[name].config,
        "model": {"name": ckpt.model_name, "kwargs": ckpt.model_kwargs},
        **({"bundle_kwargs": extra_kwargs} if extra_kwargs else {}),
        "weights_dtype": "float16",
        "train_scans": [d.get("scan") for d in cfg_data.get("train", []) if isinstance(d, dict)],
        "val_scans": [  # a zoomed copy (a source's `zoom`) named as such
            f"{d.get('scan')} (zoom {d['zoom']})" if int(d.get("zoom", 1)) > 1 else d.get("scan")
            for d in cfg_data.get("val", [])
            if isinstance(d, dict)
        ],
        "val_protocol": (ckpt.config.get("val") or {}).get("protocol"),
        "shipped_checkpoint": checkpoint,
        "shipped_step": summary.get("best_step")
        if checkpoint == "best.pt"
        else summary.get("steps"),
        "train_summary": summary,
        "wall_seconds_total": round(sum(segments), 1),
        "segments": len(segments),
        **(record or {}),
        "log": thin_log(lines),
    }
    card_path = write_text_atomic(
        dest / BUNDLED[name].card_file, json.dumps(card, indent=1) + "\n", overwrite=True
    )
    return weights, card_path
