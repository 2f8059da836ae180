"""Self-describing checkpoints: weights, model spec, intensity mapping, config, versions, RNG states.

A checkpoint is one file written with :func:`torch.save` holding only tensors and plain Python
values (dicts, lists, str, int, float, bool, None), so it loads with ``weights_only=True``: a file
carrying executable pickle content is refused, never run. Writes are atomic.

Layout (``format_version`` 1)::

    {"format": "medsr-checkpoint", "format_version": 1,
     "medsr_version": str, "torch_version": str,
     "model": {"name": <generator registry key>, "kwargs": {...}},
     "task": {"modality": "MR"|"CT"|"XR", "spatial_dims": 2|3, "scale": [sd, sh, sw]},
     "intensity": IntensityNorm.to_dict(),
     "state_dict": generator weights (EMA weights when EMA is on),
     "config": resolved experiment config (plain data),
     "train_state": optional {"step", "optimizers", "discriminators", "rng", ...} for --resume,
     "metrics": optional validation metrics,
     "provenance": optional plain-data record of how a derived checkpoint was made
                   (e.g. ``medsr enhance --adapt --save-adapted``: source model, input, steps)}
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medsr._version import __version__
from medsr.data.intensity import IntensityNorm
from medsr.errors import InputError
from medsr.io.atomic import atomic_path

FORMAT = "medsr-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """In-memory checkpoint (see the module docstring for the file layout)."""

    model_name: str
    model_kwargs: dict[str, Any]
    modality: str
    spatial_dims: int
    scale: tuple[int, int, int]
    intensity: IntensityNorm
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    medsr_version: str = __version__
    torch_version: str = str(torch.__version__)

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "medsr_version": str(self.medsr_version),
            "torch_version": str(self.torch_version),
            "model": {"name": self.model_name, "kwargs": dict(self.model_kwargs)},
            "task": {
                "modality": self.modality,
                "spatial_dims": int(self.spatial_dims),
                "scale": [int(s) for s in self.scale],
            },
            "intensity": self.intensity.to_dict(),
            "state_dict": self.state_dict,
            "config": self.config,
            "train_state": self.train_state,
            "metrics": dict(self.metrics),
            "provenance": dict(self.provenance),
        }

    def build_model(self) -> torch.nn.Module:
        """Instantiate the generator from the registry and load the weights (eval mode)."""
        from medsr.models.generators import GENERATORS

        model = GENERATORS.build(self.model_name, **self.model_kwargs)
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(
    ckpt: Checkpoint, path: str | os.PathLike[str], *, overwrite: bool = True
) -> Path:
    """Write ``ckpt`` atomically; returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(ckpt.to_payload(), tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Read a medsr checkpoint safely (``weights_only=True``).

    Raises:
        InputError: Missing file, not a medsr checkpoint, executable pickle content, or an
            unsupported format version.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "checkpoint not found")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(
            p, "refused: the file carries executable pickle content (not a plain medsr checkpoint)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InputError(p, f"not a medsr checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(p, "not a medsr checkpoint (no 'format': 'medsr-checkpoint' field)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise InputError(
            p, f"checkpoint format version {payload.get('format_version')} is not supported"
        )
    try:
        return Checkpoint(
            model_name=payload["model"]["name"],
            model_kwargs=dict(payload["model"]["kwargs"]),
            modality=payload["task"]["modality"],
            spatial_dims=int(payload["task"]["spatial_dims"]),
            scale=tuple(int(s) for s in payload["task"]["scale"]),  # type: ignore[arg-type]
            intensity=IntensityNorm.from_dict(payload["intensity"]),
            state_dict=payload["state_dict"],
            config=payload.get("config") or {},
            train_state=payload.get("train_state"),
            metrics=payload.get("metrics") or {},
            provenance=dict(payload.get("provenance") or {}),
            medsr_version=payload.get("medsr_version", "?"),
            torch_version=payload.get("torch_version", "?"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(p, f"malformed medsr checkpoint: {exc}") from None
