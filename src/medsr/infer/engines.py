"""Engines that run a model for :class:`~medsr.infer.predictor.Predictor`.

* ``torch``: a medsr checkpoint (loaded with ``weights_only=True``; see
  :mod:`medsr.artifact.checkpoint`).
* ``onnxruntime``: an ONNX file written by ``medsr export`` together with its JSON sidecar
  (``model.onnx.json``), which carries the checkpoint's metadata (modality, scale, intensity
  normalisation, receptive-field halo).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.spec import (
    ModelSpec,
    content_loss_from_config,
    kspace_factor_from_config,
    sha256_file,
)
from medsr.artifact.zoo import resolve_model
from medsr.errors import ConfigError, InputError, MissingDependencyError
from medsr.infer.interpolate import interpolate_state, psnr_partner

Engine = Literal["torch", "onnxruntime"]
ENGINES: tuple[str, ...] = ("torch", "onnxruntime")
EXPORT_FORMAT = "medsr-export"


def export_sidecar_path(model_file: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.onnx.json``."""
    p = Path(model_file)
    return p.with_name(p.name + ".json")


def load_engine(
    path: str | os.PathLike[str],
    *,
    engine: str = "torch",
    device: str | None = None,
    gan_weight: float | None = None,
) -> tuple[Any, ModelSpec]:
    """Load a model for inference.

    Args:
        path: A medsr checkpoint or bundled model name (``torch``; see :mod:`medsr.artifact.zoo`) or an
            exported ``.onnx`` file (``onnxruntime``).
        engine: ``torch`` or ``onnxruntime``.
        device: ``cpu`` / ``cuda[:i]``; ONNX Runtime uses its CUDA provider when asked and present.
        gan_weight: Blend a GAN model with its content-loss partner, ``0`` (PSNR model) to ``1``
            (the GAN model as trained); see :mod:`medsr.infer.interpolate`. ``None``: as trained.

    Returns:
        ``(net, spec)``: a :class:`torch.nn.Module` or a callable on tensors, and its spec.

    Raises:
        InputError: Missing file, not a medsr checkpoint or export, executable pickle content.
        MissingDependencyError: ``onnxruntime`` is not installed.
        ConfigError: Unknown engine.
    """
    if engine == "torch":
        _, model, spec = load_torch_checkpoint(path, gan_weight=gan_weight)
        return model, spec
    if engine == "onnxruntime":
        if gan_weight is not None:
            raise ConfigError("--gan-weight blends checkpoint weights; use the torch engine")
        from medsr.artifact.zoo import resolve_model

        return _load_onnx(resolve_model(path), device)
    raise ConfigError(f"unknown engine {engine!r}; use one of {ENGINES}")


def load_torch_checkpoint(
    path: str | os.PathLike[str], *, gan_weight: float | None = None
) -> tuple[Any, torch.nn.Module, ModelSpec]:
    """Load a medsr checkpoint for the torch engine, keeping the checkpoint object.

    What :func:`load_engine` does for ``engine="torch"``, also returning the
    :class:`~medsr.artifact.checkpoint.Checkpoint` (with the blended weights when ``gan_weight`` is
    given) for callers that write a derived checkpoint (``medsr enhance --save-adapted``).

    Args:
        path: A medsr checkpoint or bundled model name.
        gan_weight: See :func:`load_engine`.

    Returns:
        ``(checkpoint, net, spec)``; ``spec.source`` records the file, its sha256, the k-space
        factor, the degradation of the training config (``data.degradation``) and its content
        loss (``"l1"`` or ``"mse"``), if any.

    Raises:
        InputError: Missing file, not a medsr checkpoint, executable pickle content, or a
            checkpoint that does not build its model.
    """

    p = resolve_model(path)
    ckpt = load_checkpoint(p)
    partner = _interpolate(ckpt, path, gan_weight) if gan_weight is not None else ""
    config = ckpt.config or {}
    data = config.get("data")
    degradation = data.get("degradation") if isinstance(data, dict) else None
    source = {
        "checkpoint": str(p.resolve()),
        "sha256": sha256_file(p),
        "engine": "torch",
        "medsr_version": ckpt.medsr_version,
        "torch_version": ckpt.torch_version,
        "kspace_factor": kspace_factor_from_config(config),
        "degradation": degradation if isinstance(degradation, dict) else None,
        "content_loss": content_loss_from_config(config),
    }
    if gan_weight is not None:
        source["gan_weight"] = float(gan_weight)
        source["psnr_partner"] = partner
    model = ckpt.build_model()  # InputError naming the file when it does not build
    return ckpt, model, ModelSpec.from_checkpoint(ckpt, source=source)


def _interpolate(ckpt: Any, ref: str | os.PathLike[str], weight: float) -> str:
    """Blend ``ckpt``'s generator with its PSNR partner in place (see ``load_engine``); returns
    the partner's file name and hash prefix."""

    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"--gan-weight must be in [0, 1], got {weight}")
    partner_path = psnr_partner(ref, ckpt.config or {})
    partner = load_checkpoint(partner_path)
    if (partner.model_name, partner.model_kwargs) != (ckpt.model_name, ckpt.model_kwargs):
        raise InputError(
            partner_path,
            f"PSNR partner is {partner.model_name} {partner.model_kwargs}, the GAN model "
            f"{ckpt.model_name} {ckpt.model_kwargs}; network interpolation needs one architecture",
        )
    try:
        ckpt.state_dict = interpolate_state(partner.state_dict, ckpt.state_dict, weight)
    except ValueError as exc:
        raise InputError(partner_path, f"cannot interpolate with the GAN model: {exc}") from None
    return f"{partner_path.name} sha256:{sha256_file(partner_path)[:12]}"


def read_export_sidecar(model_file: Path) -> dict[str, Any]:
    """The metadata written next to an exported model.

    Raises:
        InputError: If it is missing or not a medsr export description.
    """
    side = export_sidecar_path(model_file)
    if not side.is_file():
        raise InputError(
            model_file, f"no {side.name} next to it; export the model with `medsr export`"
        )
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(side, f"unreadable export description ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InputError(side, f"not a medsr export description (no 'format': '{EXPORT_FORMAT}')")
    return data


def _load_onnx(
    p: Path, device: str | None
) -> tuple[Callable[[torch.Tensor], torch.Tensor], ModelSpec]:
    if not p.is_file():
        raise InputError(p, "model file not found")
    data = read_export_sidecar(p)
    if data.get("engine") != "onnx":
        raise InputError(p, f"exported as {data.get('engine')!r}, not ONNX")
    spec = ModelSpec.from_dict(data.get("spec") or {}, path=export_sidecar_path(p))
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(
            "the onnxruntime engine needs ONNX Runtime: pip install 'medsr[onnx]'"
        ) from None
    providers = ["CPUExecutionProvider"]
    if device is not None and device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ConfigError("device cuda asked, but this ONNX Runtime has no CUDA provider")
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(p), providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise InputError(
            p, f"not a loadable ONNX model ({' '.join(str(exc).split())[:120]})"
        ) from None
    name_in = session.get_inputs()[0].name
    source = dict(spec.source)
    source.update(onnx_path=str(p), onnx_sha256=sha256_file(p), engine="onnxruntime")

    def run(x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(session.run(None, {name_in: arr})[0])

    from dataclasses import replace

    return run, replace(spec, source=source)
