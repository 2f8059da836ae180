"""One entry point for whole volumes: :func:`degrade_volume` by kind name (what ``medsr degrade`` runs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from medsr.degrade._common import check_rng
from medsr.degrade.volumes import (
    add_noise_volume,
    decimate_volume,
    downsample_volume,
    gaussian_kspace_filter_volume,
    lowdose_ct_volume,
    slice_thickness_volume,
    truncate_kspace_volume,
)
from medsr.errors import ConfigError
from medsr.volume import Volume

#: Kind name -> Volume-level function. Kinds in :data:`RANDOM_KINDS` take an ``rng``.
VOLUME_KINDS: dict[str, Callable[..., Volume]] = {
    "kspace": truncate_kspace_volume,
    "kspace-gaussian": gaussian_kspace_filter_volume,
    "downsample": downsample_volume,
    "decimate": decimate_volume,
    "thickness": slice_thickness_volume,
    "gaussian": partial(add_noise_volume, model="gaussian"),
    "rician": partial(add_noise_volume, model="rician"),
    "poisson-gaussian": partial(add_noise_volume, model="poisson-gaussian"),
    "lowdose-ct": lowdose_ct_volume,
}
RANDOM_KINDS: frozenset[str] = frozenset({"gaussian", "rician", "poisson-gaussian", "lowdose-ct"})


def kind_parameters(kind: str) -> list[str]:
    """Keyword parameters a kind accepts (besides the volume and ``rng``).

    Raises:
        ConfigError: For an unknown kind.
    """
    fn = _lookup(kind)
    names = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("rng", "model")
    ]
    return names


def degrade_volume(
    volume: Volume,
    *,
    kind: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> Volume:
    """Apply one degradation kind to a volume, geometry included.

    Args:
        volume: Input volume.
        kind: One of :data:`VOLUME_KINDS`.
        rng: Generator (used by the random kinds only).
        params: Keyword parameters of the kind's function (see :func:`kind_parameters`).

    Returns:
        The degraded volume.

    Raises:
        ConfigError: For an unknown kind or parameter, or bad parameter values.
    """
    fn = _lookup(kind)
    check_rng(rng)
    kwargs = dict(params or {})
    unknown = sorted(set(kwargs) - set(kind_parameters(kind)))
    if unknown:
        raise ConfigError(
            f"degradation {kind!r} takes no parameter(s) {unknown}; it takes {kind_parameters(kind)}"
        )
    if kind in RANDOM_KINDS:
        kwargs["rng"] = rng
    return fn(volume, **kwargs)


def _lookup(kind: str) -> Callable[..., Volume]:
    try:
        return VOLUME_KINDS[kind]
    except KeyError:
        raise ConfigError(
            f"unknown degradation kind {kind!r}; use one of {sorted(VOLUME_KINDS)}"
        ) from None
