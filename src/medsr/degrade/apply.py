"""One entry point for whole volumes: :func:`degrade_volume` by canonical degradation name (what
``medsr degrade --kind`` runs; :mod:`medsr.degrade_names` lists the names and the older spellings
these functions also accept)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from medsr.degrade._common import check_rng
from medsr.degrade.kspace import Window
from medsr.degrade.volumes import (
    add_noise_volume,
    decimate_volume,
    downsample_volume,
    gaussian_kspace_filter_volume,
    lowdose_ct_volume,
    slice_thickness_volume,
    truncate_kspace_volume,
)
from medsr.degrade_names import NOT_VOLUME_LEVEL, VOLUME_LEVEL, resolve
from medsr.errors import ConfigError
from medsr.volume import Volume


def _kspace_truncate_zero_edges(
    volume: Volume,
    *,
    edge_divisor: float | Sequence[float],
    keep_shape: bool = False,
    window: Window = "none",
    tukey_alpha: float = 0.5,
) -> Volume:
    """:func:`~medsr.degrade.volumes.truncate_kspace_volume` given as ``round(N / e)`` zeroed
    lines per edge."""
    return truncate_kspace_volume(
        volume,
        edge_divisor=edge_divisor,
        keep_shape=keep_shape,
        window=window,
        tukey_alpha=tukey_alpha,
    )


#: Canonical name -> Volume-level function (keyword arguments bound by ``partial`` are fixed);
#: the keys are :data:`medsr.degrade_names.VOLUME_LEVEL`. Functions that take ``rng`` are random.
VOLUME_KINDS: dict[str, Callable[..., Volume]] = {
    "kspace_truncate": partial(truncate_kspace_volume, edge_divisor=None),
    "kspace_truncate_zero_edges": _kspace_truncate_zero_edges,
    "kspace_gaussian": gaussian_kspace_filter_volume,
    "downsample_area": partial(downsample_volume, method="area"),
    "downsample_bicubic": partial(downsample_volume, method="bicubic"),
    "decimate": decimate_volume,
    "slice_thickness": slice_thickness_volume,
    "gaussian_noise": partial(add_noise_volume, model="gaussian", gain=0.0),
    "rician_noise": partial(add_noise_volume, model="rician", gain=0.0),
    "poisson_gaussian_noise": partial(add_noise_volume, model="poisson-gaussian"),
    "lowdose_ct": lowdose_ct_volume,
}
RANDOM_KINDS: frozenset[str] = frozenset(
    k for k, fn in VOLUME_KINDS.items() if "rng" in inspect.signature(fn).parameters
)


def kind_parameters(kind: str) -> list[str]:
    """Keyword parameters a kind accepts (besides the volume and ``rng``); ``kind`` is a canonical
    name or an alias (``kspace`` and ``downsample`` without parameters: ``kspace_truncate``,
    ``downsample_area``).

    Raises:
        ConfigError: For an unknown kind or one without a whole-volume form.
    """
    return _parameters(_lookup(resolve(kind)[0]))


def _parameters(fn: Callable[..., Volume]) -> list[str]:
    fixed = set(getattr(fn, "keywords", {}))  # bound by partial
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "rng" and p.name not in fixed
    ]


def degrade_volume(
    volume: Volume,
    *,
    kind: str,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> Volume:
    """Apply one degradation to a volume, geometry included.

    Args:
        volume: Input volume.
        kind: A :data:`VOLUME_KINDS` name, or an alias of one (:func:`medsr.degrade_names.resolve`:
            ``kspace`` with ``edge_divisor`` is ``kspace_truncate_zero_edges``, ``downsample``
            with ``method`` picks the downsampler).
        rng: Generator (used by the random kinds only).
        params: Keyword parameters of the kind's function (see :func:`kind_parameters`).

    Returns:
        The degraded volume.

    Raises:
        ConfigError: For an unknown kind, an unknown or missing parameter, or bad values.
    """
    name, kwargs = resolve(kind, params)
    fn = _lookup(name)
    check_rng(rng)
    takes = _parameters(fn)
    unknown = sorted(set(kwargs) - set(takes))
    if unknown:
        raise ConfigError(f"degradation {name!r} takes no parameter(s) {unknown}; it takes {takes}")
    signature = inspect.signature(fn).parameters
    missing = [
        p for p in takes if signature[p].default is inspect.Parameter.empty and p not in kwargs
    ]
    if missing:
        raise ConfigError(f"degradation {name!r} needs parameter(s) {missing}")
    if name in RANDOM_KINDS:
        kwargs["rng"] = rng
    return fn(volume, **kwargs)


def _lookup(name: str) -> Callable[..., Volume]:
    if name in NOT_VOLUME_LEVEL:
        raise ConfigError(
            f"degradation {name!r} has no whole-volume form ({NOT_VOLUME_LEVEL[name]}); "
            f"whole-volume kinds: {', '.join(VOLUME_LEVEL)}"
        )
    try:
        return VOLUME_KINDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown degradation kind {name!r}; use one of {', '.join(VOLUME_LEVEL)}"
        ) from None
