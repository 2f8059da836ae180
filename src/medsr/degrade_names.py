"""One name per degradation: the canonical names, which of them act on whole volumes, and the
older spellings that are still accepted (issue 14).

The canonical name of a degradation is its :data:`medsr.degrade.DEGRADATIONS` key. Training
configs, checkpoints (``data.degradation.stages[].name``), ``medsr degrade --kind``, its JSON
sidecar (``kind``), :func:`medsr.degrade.apply.degrade_volume` and the docs use it. Tests check
that the registry, :data:`medsr.degrade.apply.VOLUME_KINDS` and this module name the same
degradations.

The aliases (:data:`ALIASES`, hyphens for underscores) are read where a name is typed for a
whole volume: ``medsr degrade --kind``, ``degrade_volume`` and ``kind_parameters``. Configs name
stages canonically (a pipeline refuses an alias and says the canonical name), so checkpoints
always record canonical names.

Standard library only: ``medsr --help`` lists the ``--kind`` choices from this module without
importing NumPy or SciPy (the registry needs both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medsr.errors import ConfigError

#: Degradations with a whole-volume form (``medsr degrade --kind``, ``degrade_volume``), in the
#: order ``--help`` lists them.
VOLUME_LEVEL: tuple[str, ...] = (
    "kspace_truncate",
    "kspace_truncate_zero_edges",
    "kspace_gaussian",
    "downsample_area",
    "downsample_bicubic",
    "decimate",
    "slice_thickness",
    "gaussian_noise",
    "rician_noise",
    "poisson_gaussian_noise",
    "lowdose_ct",
)

#: The registered degradations without a whole-volume form (training augmentations), and why.
NOT_VOLUME_LEVEL: dict[str, str] = {
    "kspace_random_truncate": "draws its factor per call; use kspace_truncate on a volume",
    "kspace_random_gaussian": "draws its width per call; use kspace_gaussian on a volume",
    "kspace_aug1_blend": "an mDCSRN training-patch augmentation",
    "kspace_aug2_gaussian": "an mDCSRN training-patch augmentation",
    "kspace_aug3_shift": "an mDCSRN training-patch augmentation",
    "kspace_aug4_centred": "an mDCSRN training-patch augmentation",
    "kspace_aug5_blend160": "an mDCSRN training-patch augmentation",
    "kspace_aug_choice": "draws one mDCSRN training-patch augmentation per call",
}

#: Every canonical name (the registry's keys).
CANONICAL: frozenset[str] = frozenset(VOLUME_LEVEL) | frozenset(NOT_VOLUME_LEVEL)

#: Older spellings -> canonical name: the ``medsr degrade --kind`` names (and ``degrade_volume``
#: kinds) before one name per degradation, as the sidecars written then record them. Every name
#: is also accepted with hyphens for underscores (``kspace-truncate``, ``rician-noise``).
ALIASES: dict[str, str] = {
    "kspace": "kspace_truncate",  # with edge_divisor: kspace_truncate_zero_edges
    "kspace-gaussian": "kspace_gaussian",
    "downsample": "downsample_area",  # with method="bicubic": downsample_bicubic
    "thickness": "slice_thickness",
    "gaussian": "gaussian_noise",
    "rician": "rician_noise",
    "poisson-gaussian": "poisson_gaussian_noise",
    "lowdose-ct": "lowdose_ct",
}

#: The two old spellings that named two degradations each, chosen by a parameter (:func:`resolve`).
FAMILIES: dict[str, tuple[str, str]] = {
    "kspace": ("kspace_truncate", "kspace_truncate_zero_edges"),  # by edge_divisor
    "downsample": ("downsample_area", "downsample_bicubic"),  # by method
}


def _plain(spelling: str) -> str:
    return spelling.strip().replace("-", "_")


_LOOKUP: dict[str, str] = {_plain(k): v for k, v in ALIASES.items()}


def canonical_name(spelling: str) -> str | None:
    """The canonical name a spelling stands for (``kspace``: ``kspace_truncate``, ``downsample``:
    ``downsample_area``, their choice without parameters), or None when it names none."""
    plain = _plain(spelling)
    return plain if plain in CANONICAL else _LOOKUP.get(plain)


def resolve(spelling: str, params: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The canonical name and the parameters that a spelling with parameters stands for.

    ``kspace`` with an ``edge_divisor`` (not None) is ``kspace_truncate_zero_edges``, and its
    ``factor``, which the old kind ignored then, is dropped; ``downsample`` is ``downsample_area``
    or, with ``method="bicubic"``, ``downsample_bicubic`` (``method`` is dropped). A
    ``kspace`` ``edge_divisor`` of None is dropped too, so old sidecars' parameters replay.

    Raises:
        ConfigError: For a spelling that names no degradation, or an unknown ``method``.
    """
    out = dict(params or {})
    plain = _plain(spelling)
    if plain == "kspace":
        edges = out.pop("edge_divisor", None)
        if edges is None:
            return FAMILIES["kspace"][0], out
        out.pop("factor", None)
        return FAMILIES["kspace"][1], {**out, "edge_divisor": edges}
    if plain == "downsample":
        method = out.pop("method", None) or "area"
        if method not in ("area", "bicubic"):
            raise ConfigError(f"unknown downsampling method {method!r}; use 'area' or 'bicubic'")
        return f"downsample_{method}", out
    name = canonical_name(spelling)
    if name is None:
        raise ConfigError(
            f"unknown degradation kind {spelling!r}; use one of {', '.join(VOLUME_LEVEL)} (whole "
            f"volumes) or {', '.join(NOT_VOLUME_LEVEL)}"
        )
    return name, out


def is_volume_kind(spelling: object) -> bool:
    """Whether ``medsr degrade --kind`` accepts a spelling (a volume-level name or an alias)."""
    return isinstance(spelling, str) and canonical_name(spelling) in VOLUME_LEVEL
