"""Recipes as data: what a training recipe needs, declared once, where config validation,
network building and the training loop all read it.

A recipe is a :class:`RecipeSpec`: its networks (roles, each built from ``networks.<role>``), the
roles it updates (each needs ``optim.<role>``), whether it has an adversarial objective, its own
config section (``train.options``, parsed into ``options_type``), its cross-section checks and its
step function, named ``"module:function"`` and imported by the loop when a run starts (so this
layer never imports ``medsr.train``). The generic code never branches on a recipe's name.

Adding a recipe is its step file (the step function and a :func:`register_recipe` call), its
config section (a dataclass, or none) and its YAML + test; ``tests/train/test_toy_recipe.py``
adds one inside a single test file and trains it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medsr.errors import ConfigError
from medsr.registry import Registry

if TYPE_CHECKING:
    from medsr.config.schema import ExperimentConfig


@dataclass(frozen=True)
class RecipeSpec:
    """One training recipe.

    Attributes:
        name: The ``train.recipe`` value.
        step: ``"module:function"`` of the step, ``step(ctx, next_batch, plan) -> scalars``
            (see :mod:`medsr.train.steps`).
        networks: Roles the recipe builds (``networks.<role>`` must exist).
        trains: Roles it updates (``optim.<role>`` must exist); default: all of ``networks``.
        adversarial: Whether it has an adversarial objective (``losses.adversarial`` needed; the
            step schedule has pretrain / warm-up / adversarial phases).
        options_type: Dataclass of the recipe's own section, ``train.options`` (None: the
            section must be empty).
        options: ``options(cfg)``: what the step sees as ``ctx.options`` (default: the parsed
            ``train.options``).
        check: Extra cross-section checks, ``check(cfg)`` raising :class:`ConfigError`.
        description: One line for the docs.
    """

    name: str
    step: str
    networks: tuple[str, ...]
    trains: tuple[str, ...] | None = None
    adversarial: bool = True
    options_type: type | None = None
    options: Callable[[ExperimentConfig], Any] | None = None
    check: Callable[[ExperimentConfig], None] | None = None
    description: str = ""

    @property
    def trained(self) -> tuple[str, ...]:
        return self.networks if self.trains is None else self.trains

    def step_options(self, cfg: ExperimentConfig) -> Any:
        """What the step function gets as ``ctx.options``."""
        if self.options is not None:
            return self.options(cfg)
        return parse_options(self, cfg.train.options)

    def step_function(self) -> Callable[..., dict[str, float]]:
        """Import the step function."""
        module, _, name = self.step.partition(":")
        try:
            return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"recipe {self.name!r}: cannot import its step {self.step!r}: {exc}"
            ) from None


RECIPES: Registry[RecipeSpec] = Registry("recipe")


def register_recipe(spec: RecipeSpec) -> RecipeSpec:
    """Add ``spec`` to :data:`RECIPES` (a name is registered once)."""
    RECIPES.register(spec.name, spec)
    return spec


def recipe_of(cfg: ExperimentConfig) -> RecipeSpec:
    """The spec of ``cfg.train.recipe``.

    Raises:
        ConfigError: For an unknown name, listing the known ones.
    """
    name = cfg.train.recipe
    if name not in RECIPES.names():
        raise ConfigError(f"train.recipe: {name!r} is not one of {sorted(RECIPES.names())}")
    return RECIPES.get(name)


def parse_options(spec: RecipeSpec, options: dict[str, Any]) -> Any:
    """``train.options`` as the recipe's dataclass (None when it has none and the section is empty).

    Raises:
        ConfigError: Options given to a recipe without a section, or unknown keys.
    """
    if spec.options_type is None:
        if options:
            raise ConfigError(
                f"train.options: recipe {spec.name!r} takes no options, got {sorted(options)}"
            )
        return None
    known = {f.name for f in dataclasses.fields(spec.options_type)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"train.options: unknown key(s) {unknown} for recipe {spec.name!r}; it takes {sorted(known)}"
        )
    try:
        return spec.options_type(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"train.options ({spec.name}): {exc}") from None


# ----------------------------------------------------------------------------- the built-ins

_STEPS = "medsr.train.steps"


def _wgan_gp(cfg: ExperimentConfig) -> None:
    adv = cfg.losses.adversarial
    if adv is None or adv.name != "wgan" or adv.gradient_penalty <= 0:
        raise ConfigError(
            "recipe 'wgan_gp' needs losses.adversarial.name=wgan and gradient_penalty > 0"
        )


def _wgan(cfg: ExperimentConfig) -> None:
    if cfg.train.weight_clip <= 0:
        raise ConfigError(
            "recipe 'wgan' clips the critic's weights: set train.recipe: wgan_gp with "
            "losses.adversarial.gradient_penalty: 10 (WGAN-GP), or train.recipe: wgan with "
            "train.weight_clip: 0.01 and gradient_penalty: 0 (WGAN)"
        )


def _cycle(cfg: ExperimentConfig) -> None:
    if cfg.losses.cycle is None:
        raise ConfigError("recipe 'cycle' needs losses.cycle (weights of the cycle terms)")


def _threeplayer(cfg: ExperimentConfig) -> None:
    if cfg.networks["feature"].kwargs.get("frozen", True):
        raise ConfigError(
            "recipe 'threeplayer' trains the feature extractor: set networks.feature.kwargs.frozen=false "
            "(use recipe 'gan' with a frozen extractor for DISGAN)"
        )


_GD = ("generator", "discriminator")
for _spec in (
    RecipeSpec("supervised", f"{_STEPS}:supervised_step", ("generator",), adversarial=False,
               description="pixel / feature terms only"),
    RecipeSpec("gan", f"{_STEPS}:gan_step", _GD,
               description="generator update, then discriminator updates"),
    RecipeSpec("wgan_gp", f"{_STEPS}:wgan_gp_step", _GD, check=_wgan_gp,
               description="critic first, WGAN loss + gradient penalty (mDCSRN schedule)"),
    RecipeSpec("wgan", f"{_STEPS}:wgan_gp_step", _GD, check=_wgan,
               description="the WGAN-GP schedule with weight clipping instead of the penalty"),
    RecipeSpec("cycle", f"{_STEPS}:cycle_step",
               ("generator", "generator_lr", "discriminator", "discriminator_lr"),
               options=lambda cfg: cfg.losses.cycle, check=_cycle,
               description="SRResCycGAN: two generators and two discriminators"),
    RecipeSpec("threeplayer", f"{_STEPS}:threeplayer_step", (*_GD, "feature"), check=_threeplayer,
               description="gan with a trainable feature extractor"),
):  # fmt: skip
    register_recipe(_spec)
