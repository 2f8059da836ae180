"""Cross-section checks of an :class:`~medsr.config.schema.ExperimentConfig`.

Run at load time, before any data is read: registry names exist, keyword arguments bind to the
constructors, the recipe has the networks, losses and optimisers it needs, patch sizes fit the
scale, and weight files that a component names exist.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsr.config.recipes import parse_options, recipe_of
from medsr.config.schema import ROLES, ComponentConfig, ExperimentConfig
from medsr.conventions import normalize_scale
from medsr.data import catalogue
from medsr.errors import ConfigError
from medsr.losses import LOSSES
from medsr.metrics.protocols import PROTOCOLS, TissueDiceProtocol, TissueHUProtocol
from medsr.models.features import FEATURES

_ADVERSARIAL_NAMES = ("vanilla", "lsgan", "wgan", "hinge", "ragan", "gradient_penalty", "r1")


def validate_config(cfg: ExperimentConfig) -> None:
    """Raise :class:`~medsr.errors.ConfigError` on the first cross-section problem."""
    spec = recipe_of(cfg)
    parse_options(spec, cfg.train.options)
    _networks(cfg)
    _losses(cfg)
    _optim(cfg)
    _data(cfg)
    _val(cfg)


def registry_for(role: str) -> Any:
    """The registry that builds networks of ``role``."""
    if role in ("generator", "generator_lr"):
        from medsr.models.generators import GENERATORS

        return GENERATORS
    if role in ("discriminator", "discriminator_lr"):
        from medsr.models.discriminators import DISCRIMINATORS

        return DISCRIMINATORS

    return FEATURES


def check_kwargs(factory: Callable[..., Any], kwargs: dict[str, Any], where: str) -> None:
    """Check that ``factory(**kwargs)`` binds (names only; values are checked on build)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        known = [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
        raise ConfigError(f"{where}: {exc}; it takes {known}") from None


def _lookup(registry: Any, name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc.args[0]}") from None


def _networks(cfg: ExperimentConfig) -> None:
    unknown = sorted(set(cfg.networks) - set(ROLES))
    if unknown:
        raise ConfigError(f"networks: unknown role(s) {unknown}; roles are {list(ROLES)}")
    needed = recipe_of(cfg).networks
    missing = [r for r in needed if r not in cfg.networks]
    if missing:
        raise ConfigError(f"recipe {cfg.train.recipe!r} needs networks {missing}")
    for role, comp in cfg.networks.items():
        where = f"networks.{role}"
        factory = _lookup(registry_for(role), comp.name, where)
        kwargs = dict(comp.kwargs)
        if role == "feature":
            if not feature_used(cfg):
                continue
            _feature_weights(comp, where)
            if "weights" in kwargs and "weights" not in inspect.signature(factory).parameters:
                kwargs.pop("weights")
        check_kwargs(factory, kwargs, where)
        if role in ("generator", "generator_lr"):
            _generator_task(cfg, role, comp)


def feature_used(cfg: ExperimentConfig) -> bool:
    """Whether the feature extractor is needed (a weighted feature term, or a recipe that has
    it among its networks: the 3-player GAN trains it)."""
    if "feature" in recipe_of(cfg).networks:
        return True
    return any(t.name == "feature" and t.weight != 0 for t in cfg.losses.terms.values())


def _feature_weights(comp: ComponentConfig, where: str) -> None:
    weights = comp.kwargs.get("weights")
    if weights:
        if not Path(str(weights)).is_file():
            raise ConfigError(f"{where}.kwargs.weights: file not found: {weights}")
        return
    if comp.name == "vgg19" and not comp.kwargs.get("allow_random", False):
        raise ConfigError(
            f"{where}: the VGG-19 perceptual loss needs ImageNet weights from a local file and medsr "
            "never downloads them. Either pass --set networks.feature.kwargs.weights=/path/to/"
            "vgg19-dcbb9e9d.pth, or drop the perceptual term with --set losses.terms.feature.weight=0 "
            "(see docs/training.md, 'Feature losses without pretrained weights')"
        )


def _generator_task(cfg: ExperimentConfig, role: str, comp: ComponentConfig) -> None:
    """The generator's ``spatial_dims`` and ``scale`` (given or default) match the task's."""

    dims = cfg.task.spatial_dims
    where = f"networks.{role}.kwargs"
    params = inspect.signature(registry_for(role).get(comp.name)).parameters
    given_dims = comp.kwargs.get("spatial_dims", _default(params, "spatial_dims", dims))
    if given_dims != dims:
        raise ConfigError(f"{where}.spatial_dims={given_dims} but task.spatial_dims={dims}")
    want = tuple(cfg.task.scale[3 - dims :])
    scale = comp.kwargs.get("scale", _default(params, "scale", 1))
    try:
        got = normalize_scale(scale, dims)
    except ValueError as exc:
        raise ConfigError(f"{where}.scale: {exc}") from None
    if got != want:
        raise ConfigError(
            f"{where}.scale={scale} (given or default) but task.scale gives {list(want)}"
        )


def _default(params: Any, name: str, fallback: Any) -> Any:
    p = params.get(name)
    if p is None or p.default is inspect.Parameter.empty:
        return fallback
    return p.default


def _losses(cfg: ExperimentConfig) -> None:

    for key, term in cfg.losses.terms.items():
        where = f"losses.terms.{key}"
        if term.name in _ADVERSARIAL_NAMES:
            raise ConfigError(
                f"{where}: {term.name!r} is adversarial; configure it in losses.adversarial"
            )
        factory = _lookup(LOSSES, term.name, where)
        if term.weight == 0:
            continue
        if term.name == "feature":
            if "feature" not in cfg.networks:
                raise ConfigError(f"{where}: a feature term needs networks.feature (the extractor)")
            kwargs = {"extractor": None, **term.kwargs}
        else:
            kwargs = dict(term.kwargs)
        check_kwargs(factory, kwargs, where)
        if term.space == "difference" and any(s != 1 for s in cfg.task.scale):
            raise ConfigError(
                f"{where}: space=difference needs input and output on one grid (scale 1)"
            )
    adv = cfg.losses.adversarial
    if recipe_of(cfg).adversarial and adv is None:
        raise ConfigError(f"recipe {cfg.train.recipe!r} needs losses.adversarial")
    if adv is not None:
        check_kwargs(LOSSES.get(adv.name), adv.kwargs, "losses.adversarial")
    _lipschitz(cfg)
    check = recipe_of(cfg).check  # the recipe's own cross-section checks
    if check is not None:
        check(cfg)


def _lipschitz(cfg: ExperimentConfig) -> None:
    """A WGAN critic needs exactly one Lipschitz constraint: gradient penalty or weight clipping."""
    adv, clip, recipe = cfg.losses.adversarial, cfg.train.weight_clip, cfg.train.recipe
    wgan = adv is not None and adv.name == "wgan" and recipe_of(cfg).adversarial
    fix = (
        "set train.recipe: wgan_gp with losses.adversarial.gradient_penalty: 10 (WGAN-GP), or "
        "train.recipe: wgan with train.weight_clip: 0.01 and gradient_penalty: 0 (WGAN)"
    )
    if wgan and adv is not None and adv.gradient_penalty <= 0 and clip <= 0:
        raise ConfigError(
            "losses.adversarial.name=wgan with neither a gradient penalty nor weight clipping is "
            f"an unconstrained WGAN (the critic's output grows without bound): {fix}"
        )
    if clip > 0 and not wgan:
        raise ConfigError(
            f"train.weight_clip={clip} constrains a WGAN critic, but recipe {recipe!r} with "
            f"losses.adversarial {adv.name if adv else None!r} has none: set "
            "losses.adversarial.name: wgan or train.weight_clip: 0"
        )
    if clip > 0 and adv is not None and adv.gradient_penalty > 0:
        raise ConfigError(
            "train.weight_clip and losses.adversarial.gradient_penalty are both set; a WGAN critic "
            "takes one constraint (clipping biases a penalised critic, Gulrajani et al. 2017): "
            "set one of them to 0"
        )


def _optim(cfg: ExperimentConfig) -> None:
    stray = sorted(set(cfg.optim) - set(cfg.networks))
    if stray:
        raise ConfigError(f"optim: {stray} name no network in networks ({sorted(cfg.networks)})")
    trained = recipe_of(cfg).trained
    missing = [r for r in trained if r not in cfg.optim]
    if missing:
        raise ConfigError(f"recipe {cfg.train.recipe!r} trains {missing}: add optim.<role> entries")


def _data(cfg: ExperimentConfig) -> None:
    data, dims = cfg.data, cfg.task.spatial_dims
    scale = cfg.task.scale[3 - dims :]
    if len(data.sampler.patch) != dims:
        raise ConfigError(
            f"data.sampler.patch needs {dims} values for a {dims}D task, got {data.sampler.patch}"
        )
    if any(p % s for p, s in zip(data.sampler.patch, scale)):
        raise ConfigError(
            f"data.sampler.patch {data.sampler.patch} must be divisible by the scale {scale}"
        )
    if data.val_crop is not None and (
        len(data.val_crop) != dims or any(c % s for c, s in zip(data.val_crop, scale))
    ):
        raise ConfigError(
            f"data.val_crop needs {dims} values divisible by {scale}, got {data.val_crop}"
        )
    if data.mode in ("degrade", "unpaired") and data.degradation is None:
        raise ConfigError(
            f"data.mode={data.mode!r} needs data.degradation (how LQ inputs are made)"
        )
    if data.resize is not None and (dims != 2 or data.mode == "paired"):
        raise ConfigError(
            "data.resize resamples 2D high-quality slices before degradation: it needs "
            "task.spatial_dims 2 and data.mode degrade or unpaired"
        )
    if data.mode == "paired":
        for src in data.train + data.val:
            if not src.lq and src.format != "paired_ct":
                raise ConfigError(
                    f"data source {src.scan!r}: paired mode needs 'lq' or format=paired_ct"
                )
    for src in data.train + data.val + data.train_lq:
        _source_exists(src.scan)
        if src.lq and not Path(src.lq).exists():
            raise ConfigError(f"data source {src.scan!r}: paired LQ file not found: {src.lq}")
    if data.mode == "unpaired" and not data.train_lq:
        raise ConfigError(
            "data.mode='unpaired' needs data.train_lq (the low-quality domain's scans)"
        )
    if data.degradation is not None:
        from medsr.degrade import DegradationPipeline

        DegradationPipeline([(s.name, s.kwargs) for s in data.degradation.stages])


def _source_exists(scan: str) -> None:
    """A catalogue name or an existing path (nothing is read)."""
    import difflib

    names = [e.name for e in catalogue.entries()]
    if scan in names or Path(scan).exists():
        return
    close = difflib.get_close_matches(scan, names, n=2)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ConfigError(
        f"data source {scan!r} is neither a catalogue scan nor an existing file{hint} "
        "(`medsr data list` shows the catalogue)"
    )


def _val(cfg: ExperimentConfig) -> None:

    _lookup(PROTOCOLS, cfg.val.protocol, "val.protocol")
    if isinstance(PROTOCOLS.get(cfg.val.protocol), TissueHUProtocol):
        raise ConfigError(
            f"val.protocol {cfg.val.protocol!r} measures tissue HU shifts, not val.metric; "
            "validate with ct-window or ldct-bench and run it with medsr evaluate"
        )
    if isinstance(PROTOCOLS.get(cfg.val.protocol), TissueDiceProtocol):
        raise ConfigError(
            f"val.protocol {cfg.val.protocol!r} measures tissue Dice, not val.metric; "
            "validate with brain-mask and run it with medsr evaluate"
        )
    if cfg.val.window is not None and len(cfg.val.window) != cfg.task.spatial_dims:
        raise ConfigError(f"val.window needs {cfg.task.spatial_dims} values, got {cfg.val.window}")
