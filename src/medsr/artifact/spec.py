"""What inference needs to know about a model, independent of the engine that runs it.

A :class:`ModelSpec` is read from a medsr checkpoint (:meth:`ModelSpec.from_checkpoint`) or from
the JSON sidecar that :mod:`medsr.infer.export` writes next to an exported ONNX / TorchScript file
(:meth:`ModelSpec.from_dict`), so ``medsr enhance`` treats every engine alike.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsr.conventions import MODALITIES
from medsr.data.intensity import IntensityNorm
from medsr.errors import InputError


@dataclass(frozen=True)
class ModelSpec:
    """Model facts used by :class:`~medsr.infer.predictor.Predictor`.

    Attributes:
        name: Generator registry key (or a free label for a bare module).
        spatial_dims: 2 (slices) or 3 (volumes).
        scale: ``(sd, sh, sw)`` output/input size ratio; 2D models have ``sd == 1``.
        modality: ``"MR"``, ``"CT"`` or ``"XR"``: what the model was trained on.
        intensity: The recorded intensity normalisation.
        in_channels: Input channels of the network.
        out_channels: Output channels of the network.
        halo: Receptive-field margin in input voxels per network axis (exact mode), if known.
        kwargs: Generator constructor arguments (empty for a bare module).
        source: Provenance: file path, sha256, engine, versions.
    """

    name: str
    spatial_dims: int
    scale: tuple[int, int, int]
    modality: str
    intensity: IntensityNorm
    in_channels: int = 1
    out_channels: int = 1
    halo: tuple[int, ...] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {self.spatial_dims!r}")
        sc = tuple(int(s) for s in self.scale)
        if len(sc) != 3 or min(sc) < 1:
            raise ValueError(f"scale must be three positive ints (sd, sh, sw), got {self.scale!r}")
        if self.spatial_dims == 2 and sc[0] != 1:
            raise ValueError(f"a 2D model has scale (1, sh, sw), got {sc}")
        object.__setattr__(self, "scale", sc)
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.halo is not None:
            object.__setattr__(self, "halo", tuple(int(h) for h in self.halo))

    @property
    def net_scale(self) -> tuple[int, ...]:
        """Scale along the network's own spatial axes (``(sh, sw)`` for 2D)."""
        return self.scale if self.spatial_dims == 3 else self.scale[1:]

    @classmethod
    def from_checkpoint(cls, ckpt: Any, *, source: dict[str, Any] | None = None) -> ModelSpec:
        """Spec of a :class:`~medsr.artifact.checkpoint.Checkpoint`."""
        kw = dict(ckpt.model_kwargs)
        return cls(
            name=ckpt.model_name,
            spatial_dims=int(ckpt.spatial_dims),
            scale=tuple(ckpt.scale),  # type: ignore[arg-type]
            modality=ckpt.modality,
            intensity=ckpt.intensity,
            in_channels=int(kw.get("in_channels", 1)),
            out_channels=int(kw.get("out_channels", 1)),
            kwargs=kw,
            source=dict(source or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-able)."""
        return {
            "name": self.name,
            "spatial_dims": self.spatial_dims,
            "scale": list(self.scale),
            "modality": self.modality,
            "intensity": self.intensity.to_dict(),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "halo": None if self.halo is None else list(self.halo),
            "kwargs": dict(self.kwargs),
            "source": dict(self.source),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str | os.PathLike[str] = "?") -> ModelSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: For missing or malformed fields (the message names ``path``).
        """
        try:
            return cls(
                name=str(data["name"]),
                spatial_dims=int(data["spatial_dims"]),
                scale=tuple(int(s) for s in data["scale"]),  # type: ignore[arg-type]
                modality=str(data["modality"]),
                intensity=IntensityNorm.from_dict(dict(data["intensity"])),
                in_channels=int(data.get("in_channels", 1)),
                out_channels=int(data.get("out_channels", 1)),
                halo=None if data.get("halo") is None else tuple(data["halo"]),
                kwargs=dict(data.get("kwargs") or {}),
                source=dict(data.get("source") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"malformed model description: {exc}") from None


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(Path(path), "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def content_loss_from_config(config: dict[str, Any]) -> str | None:
    """The elementwise content loss a checkpoint was trained with: the name (``"l1"`` or
    ``"mse"``) of the heaviest image-space L1 or MSE term of the training config's
    ``losses.terms``; None when it records none (what per-scan adaptation fine-tunes with)."""
    losses = config.get("losses")
    terms = losses.get("terms") if isinstance(losses, dict) else None
    if not isinstance(terms, dict):
        return None
    found = [
        (float(t.get("weight", 1.0)), str(t["name"]))
        for t in terms.values()
        if isinstance(t, dict)
        and t.get("name") in ("l1", "mse")
        and t.get("space", "image") == "image"
    ]
    return max(found)[1] if found else None


def kspace_factor_from_config(config: dict[str, Any]) -> Any:
    """The k-space truncation factor a checkpoint's config records for its inputs, if any.

    Understands the training schema (``data.degradation.stages``: the factor of a
    ``kspace_truncate`` stage when it is the only k-space stage) and a plain ``degradation``
    mapping (top level or one level down) whose ``kind`` starts with ``kspace`` and that holds
    ``factor`` (directly or under ``params``).
    """
    data = config.get("data")
    stages = data.get("degradation", {}).get("stages") if isinstance(data, dict) else None
    if isinstance(stages, list):
        found = [
            st.get("kwargs", {}).get("factor")
            for st in stages
            if isinstance(st, dict) and str(st.get("name", "")).startswith("kspace")
        ]
        if len(found) == 1 and found[0] is not None:
            return found[0]
    nodes = [config, *(v for v in config.values() if isinstance(v, dict))]
    for node in nodes:
        deg = node.get("degradation")
        if isinstance(deg, dict) and str(deg.get("kind", "")).startswith("kspace"):
            params = deg.get("params", deg)
            if isinstance(params, dict) and params.get("factor") is not None:
                return params["factor"]
    return None
