"""A small composable pipeline of registered degradations with a JSON-able spec."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medsr.degrade._common import check_rng
from medsr.degrade_names import canonical_name
from medsr.errors import ConfigError


@dataclass(frozen=True)
class Stage:
    """One pipeline step: a :data:`~medsr.degrade.DEGRADATIONS` name and its keyword arguments."""

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def child_generators(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators of ``rng`` (``Generator.spawn``; seeds drawn from ``rng``
    for generators that cannot spawn)."""
    check_rng(rng)
    try:
        return list(rng.spawn(n))
    except (AttributeError, TypeError, ValueError):
        seeds = rng.integers(0, 2**63 - 1, size=n)
        return [np.random.default_rng(int(s)) for s in seeds]


class DegradationPipeline:
    """Apply registered degradations in order; stage ``i`` gets the ``i``-th child generator.

    Args:
        stages: ``(name, kwargs)`` pairs or :class:`Stage` objects. ``kwargs`` must be JSON-able and
            must not contain the array or ``rng``.

    Raises:
        ConfigError: For an unknown name, arguments the function does not take, or non-JSON kwargs.

    Example:
        >>> pipe = DegradationPipeline([("kspace_truncate", {"spatial_dims": 3, "factor": [1, 2, 2]}),
        ...                             ("rician_noise", {"sigma": 0.01})])
        >>> x_lq = pipe(x_hq, rng=np.random.default_rng(0))  # doctest: +SKIP
    """

    def __init__(self, stages: Sequence[tuple[str, Mapping[str, Any]] | Stage]) -> None:
        self.stages: tuple[Stage, ...] = tuple(
            s if isinstance(s, Stage) else Stage(str(s[0]), dict(s[1])) for s in stages
        )
        for stage in self.stages:
            _validate(stage)

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Run the stages on ``x``.

        Args:
            x: Input array.
            rng: Parent generator; it is advanced by one ``spawn``.

        Returns:
            The output of the last stage (``x`` as float32 when there are no stages).
        """
        out = np.asarray(x, dtype=np.float32)
        for stage, child in zip(self.stages, child_generators(rng, len(self.stages))):
            fn = _function(stage.name)
            kwargs = dict(stage.kwargs)
            if _takes_rng(fn):
                kwargs["rng"] = child
            out = fn(out, **kwargs)
        return out

    def spec(self) -> dict[str, Any]:
        """JSON-able description: ``{"stages": [{"name": ..., "kwargs": {...}}, ...]}``."""
        return {
            "stages": [
                {"name": s.name, "kwargs": json.loads(json.dumps(dict(s.kwargs)))}
                for s in self.stages
            ]
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> DegradationPipeline:
        """Rebuild a pipeline from :meth:`spec` output.

        Raises:
            ConfigError: For a malformed spec.
        """
        if not isinstance(spec, Mapping) or set(spec) != {"stages"}:
            raise ConfigError("a pipeline spec is a mapping with exactly one key, 'stages'")
        stages = []
        for item in spec["stages"]:
            if (
                not isinstance(item, Mapping)
                or not set(item) <= {"name", "kwargs"}
                or "name" not in item
            ):
                raise ConfigError(
                    f"a pipeline stage needs 'name' and optional 'kwargs', got {item!r}"
                )
            stages.append(Stage(str(item["name"]), dict(item.get("kwargs", {}))))
        return cls(stages)

    def __repr__(self) -> str:
        return f"DegradationPipeline({[(s.name, dict(s.kwargs)) for s in self.stages]!r})"


def in_plane_pixel(spacing: Sequence[float]) -> float:
    """Mean voxel size (mm) of the last two axes, rounded to 1e-6: the ``pixel_size``
    :func:`with_pixel_size` fills in."""
    return round(float(np.mean([float(v) for v in spacing[-2:]])), 6)


def with_pixel_size(
    stages: Sequence[tuple[str, Mapping[str, Any]]], spacing: Sequence[float]
) -> list[tuple[str, dict[str, Any]]]:
    """``stages`` with ``pixel_size`` filled in where a stage's function takes it and the stage
    does not set it (low-dose CT): the mean in-plane voxel size, the last two axes of
    ``spacing`` (mm), rounded to 1e-6 so near-equal spacings share a pipeline. Used by training
    (:class:`medsr.train.data.SpacingPipeline`) and by per-scan adaptation
    (:func:`medsr.infer.adapt_pairs.degradation_pair`), so both degrade a scan alike."""

    pixel = in_plane_pixel(spacing)
    filled = []
    for name, kwargs in stages:
        kw = dict(kwargs)
        if "pixel_size" not in kw and "pixel_size" in inspect.signature(_function(name)).parameters:
            kw["pixel_size"] = pixel
        filled.append((name, kw))
    return filled


def _function(name: str) -> Callable[..., np.ndarray]:
    from medsr.degrade import DEGRADATIONS

    try:
        return DEGRADATIONS.get(name)
    except KeyError as exc:
        canonical = canonical_name(name)
        if canonical is not None:  # an alias: configs and checkpoints name stages canonically
            raise ConfigError(
                f"degradation stage {name!r}: write its canonical name {canonical!r} (the "
                f"aliases of medsr.degrade_names are for medsr degrade --kind)"
            ) from None
        raise ConfigError(str(exc.args[0])) from None


def _takes_rng(fn: Callable[..., Any]) -> bool:
    return "rng" in inspect.signature(fn).parameters


def _validate(stage: Stage) -> None:
    fn = _function(stage.name)
    if "rng" in stage.kwargs:
        raise ConfigError(
            f"stage {stage.name!r}: do not pass 'rng'; the pipeline gives each stage its own"
        )
    try:
        json.dumps(dict(stage.kwargs))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"stage {stage.name!r}: kwargs must be JSON-able ({exc})") from None
    params = list(inspect.signature(fn).parameters)
    try:
        inspect.signature(fn).bind_partial(None, **stage.kwargs)
    except TypeError as exc:
        raise ConfigError(f"stage {stage.name!r}: {exc}; it takes {params[1:]}") from None
    from medsr.degrade import STAGE_CHECKS

    check = STAGE_CHECKS.get(stage.name)
    if check is not None:
        try:
            check(**stage.kwargs)
        except ConfigError as exc:
            raise ConfigError(f"stage {stage.name!r}: {exc}") from None
