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
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medsr._version import __version__
from medsr.conventions import MODALITIES
from medsr.data.intensity import IntensityNorm
from medsr.errors import InputError
from medsr.io.atomic import atomic_path
from medsr.models.generators import GENERATORS

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
    #: The file it was read from (for error messages; not stored in the file).
    path: Path | None = field(default=None, compare=False, repr=False)

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
        """Instantiate the generator from the registry and load the weights (eval mode).

        Raises:
            InputError: Naming the checkpoint file, for an unknown registry key, constructor
                arguments the generator does not take, or weights that do not fit it.
        """

        where = self.path if self.path is not None else f"checkpoint of {self.model_name!r}"
        try:
            model = GENERATORS.build(self.model_name, **self.model_kwargs)
        except KeyError as exc:
            raise InputError(where, f"checkpoint names {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(
                where, f"checkpoint's model arguments do not build {self.model_name}: {exc}"
            ) from None
        try:
            model.load_state_dict(self.state_dict)
        except (RuntimeError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                where, f"checkpoint's weights do not fit {self.model_name}: {_first_problem(exc)}"
            ) from None
        return model.eval()


def _first_problem(exc: BaseException) -> str:
    """The first of the problems ``load_state_dict`` lists, and how many there are."""
    lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()]
    if not lines:
        return " ".join(str(exc).split())[:200]
    problems = [p.strip() for ln in lines for p in ln.split(". ") if p.strip()]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0].rstrip(".")[:200] + more


def check_task(modality: Any, spatial_dims: Any, scale: Any) -> str | None:
    """What is wrong with a checkpoint's ``task`` fields, or None when they are usable."""

    if modality not in MODALITIES:
        return f"task.modality must be one of {MODALITIES}, got {modality!r}"
    if spatial_dims not in (2, 3) or isinstance(spatial_dims, bool):
        return f"task.spatial_dims must be 2 or 3, got {spatial_dims!r}"
    ok = isinstance(scale, list | tuple) and len(scale) == 3
    if not ok or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in scale):
        return f"task.scale must be three positive integers (sd, sh, sw), got {scale!r}"
    if spatial_dims == 2 and scale[0] != 1:
        return f"task.scale of a 2D model is (1, sh, sw), got {list(scale)}"
    return None


def save_checkpoint(
    ckpt: Checkpoint, path: str | os.PathLike[str], *, overwrite: bool = True
) -> Path:
    """Write ``ckpt`` atomically; returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(ckpt.to_payload(), tmp)
    return Path(path)


def check_finite_weights(path: Path, state_dict: dict[str, Any]) -> None:
    """Refuse weights holding NaN or Inf values (a damaged file or a diverged run).

    Raises:
        InputError: Naming the first bad tensor and how many there are.
    """
    bad = [
        name
        for name, t in state_dict.items()
        if isinstance(t, torch.Tensor)
        and (t.is_floating_point() or t.is_complex())
        and not bool(torch.isfinite(t).all())
    ]
    if bad:
        more = f" and {len(bad) - 1} more tensors" if len(bad) > 1 else ""
        raise InputError(
            path,
            f"the weights hold NaN/Inf values (in {bad[0]!r}{more}); the checkpoint is damaged "
            "or from a diverged run: use another one (an earlier checkpoints/ckpt_*.pt of the run)",
        )


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
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # not a class or function reference: corrupt data
            raise InputError(p, "not a medsr checkpoint (unreadable pickle data)") from None
        raise InputError(
            p, "refused: the file carries executable pickle content (not a plain medsr checkpoint)"
        ) from None
    except (
        RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError,
        struct.error, MemoryError, OverflowError,
    ) as exc:  # fmt: skip
        # a text or random file read as a legacy torch file fails anywhere in its parser
        raise InputError(
            p, f"not a medsr checkpoint (unreadable as a torch file: {type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(p, "not a medsr checkpoint (no 'format': 'medsr-checkpoint' field)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise InputError(
            p, f"checkpoint format version {payload.get('format_version')} is not supported"
        )
    try:
        task = payload["task"]
        problem = check_task(task["modality"], task["spatial_dims"], task["scale"])
        if problem is not None:
            raise InputError(p, f"malformed medsr checkpoint: {problem}")
        if not isinstance(payload["model"]["name"], str):
            raise InputError(p, "malformed medsr checkpoint: model.name is not a string")
        if not isinstance(payload["state_dict"], dict):
            raise InputError(p, "malformed medsr checkpoint: state_dict is not a mapping")
        check_finite_weights(p, payload["state_dict"])
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
            path=p,
        )
    except InputError:
        raise
    except KeyError as exc:
        raise InputError(p, f"malformed medsr checkpoint: no {exc} field") from None
    except (TypeError, ValueError) as exc:
        raise InputError(p, f"malformed medsr checkpoint: {exc}") from None
