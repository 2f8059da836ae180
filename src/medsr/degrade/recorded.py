"""A training pipeline's recorded degradation as whole-volume kinds (what ``medsr degrade --like``
runs): ``data.degradation`` of a checkpoint's config, stage by stage.

A stage runs as the :data:`~medsr.degrade.apply.VOLUME_KINDS` kind of the same (canonical) name,
which computes the same thing on a volume in scanner units (``lowdose_ct`` takes the pixel size
from the volume, as in training), with the stage's arguments. A factor recorded for
``spatial_dims=2`` stages acts on ``(H, W)`` and becomes ``(1, fh, fw)``. Random (augmenting)
stages, stages in network units and arguments without a volume equivalent are refused with the
reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medsr.degrade.apply import VOLUME_KINDS, kind_parameters
from medsr.errors import ConfigError

#: Whole-volume kinds whose recorded stages do not carry over: stage name -> why.
_NOT_RECORDED: dict[str, str] = {
    "slice_thickness": "its stage gives the thickness in voxels, the volume kind in mm",
}

#: Stage arguments whose recorded value must be this one (what the volume kinds do).
_FIXED: dict[str, Any] = {"magnitude": True, "pixel_size": None}

#: Per-axis arguments and the value that leaves an axis alone (``D`` of a 2D stage).
_PER_AXIS: dict[str, Any] = {"factor": 1, "offset": 0, "edge_divisor": float("inf")}


def _per_axis(key: str, value: Any, spatial_dims: int) -> Any:
    """A stage's per-axis value as ``(D, H, W)`` (a 2D stage leaves ``D`` alone)."""
    vals = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if spatial_dims != 2:
        return vals[0] if len(vals) == 1 else tuple(vals)
    return (_PER_AXIS[key], *(vals * 2 if len(vals) == 1 else vals))


def kinds_of_stages(
    degradation: Mapping[str, Any] | None, *, model: str = "the model"
) -> list[tuple[str, dict[str, Any]]]:
    """The ``(kind, parameters)`` steps that reproduce a recorded ``data.degradation``.

    Args:
        degradation: The recorded mapping (``stages``, ``units``, ...), as in a checkpoint config.
        model: The model's name, for messages.

    Returns:
        One ``(kind, parameters)`` per stage, in order; apply them with one generator.

    Raises:
        ConfigError: For no recorded degradation, network units, or a stage (or argument) that
            has no whole-volume equivalent.
    """
    stages = degradation.get("stages") if isinstance(degradation, Mapping) else None
    if not isinstance(stages, list) or not stages:
        raise ConfigError(f"{model} records no degradation (a paired or unpaired model?)")
    if str(degradation.get("units", "scanner")) != "scanner":  # type: ignore[union-attr]
        raise ConfigError(
            f"{model} degrades in network units (relative to each scan's intensity); "
            "medsr degrade works in scanner units and cannot reproduce it"
        )
    reproducible = sorted(set(VOLUME_KINDS) - set(_NOT_RECORDED))
    steps = []
    for st in stages:
        name = str(st.get("name", "")) if isinstance(st, Mapping) else str(st)
        if not isinstance(st, Mapping) or name not in reproducible:
            why = f" ({_NOT_RECORDED[name]})" if name in _NOT_RECORDED else ""
            raise ConfigError(
                f"{model}'s degradation stage {name!r} has no medsr degrade equivalent{why}; "
                f"reproducible stages: {', '.join(reproducible)}"
            )
        passed = kind_parameters(name)
        kwargs = dict(st.get("kwargs") or {})
        spatial_dims = int(kwargs.pop("spatial_dims", 3))
        params: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in passed:
                params[key] = _per_axis(key, value, spatial_dims) if key in _PER_AXIS else value
            elif key in _FIXED and value == _FIXED[key]:
                continue
            else:
                raise ConfigError(
                    f"{model}'s degradation stage {name} sets {key}={value!r}, which medsr "
                    f"degrade --kind {name} does not offer"
                )
        steps.append((name, params))
    return steps


def recorded_degradation(ref: str) -> tuple[dict[str, Any], str]:
    """A model's training degradation (``data.degradation`` of its checkpoint) and its file
    (the bundled file's name, or the path given).

    Raises:
        ConfigError: For an ONNX export or a checkpoint that records no degradation.
    """
    from medsr.artifact.checkpoint import load_checkpoint
    from medsr.artifact.zoo import is_bundled_name, resolve_model

    path = resolve_model(ref)
    if path.suffix.lower() == ".onnx":
        raise ConfigError(f"--like reads a medsr checkpoint; {ref} is an export (use its .pt)")
    ckpt = load_checkpoint(path)
    data = (ckpt.config or {}).get("data")
    recorded = data.get("degradation") if isinstance(data, dict) else None
    if not isinstance(recorded, dict):
        raise ConfigError(f"{ref} records no degradation (a paired or unpaired model?)")
    return recorded, (path.name if is_bundled_name(ref) else str(path))
