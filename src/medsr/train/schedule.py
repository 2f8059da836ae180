"""Pure functions of the step: learning-rate factors and what each training step does.

Schedules have no state beyond the step number, so resuming needs nothing but the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from medsr.config.recipes import RECIPES
from medsr.config.schema import ScheduleConfig, TrainConfig

Phase = Literal["supervised", "pretrain", "d_warmup", "adversarial"]


def lr_factor(cfg: ScheduleConfig, *, step: int, total: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total`` steps.

    ``multistep`` multiplies by ``gamma`` at every milestone already reached; ``cosine`` and
    ``linear`` go from 1 to ``final_factor`` over the run; a linear warm-up from ``1 / warmup``
    to 1 over the first ``warmup`` steps multiplies any of them.
    """
    if cfg.kind == "multistep":
        f = cfg.gamma ** sum(step >= m for m in cfg.milestones)
    elif cfg.kind in ("cosine", "linear"):
        t = min(max(step / max(total - 1, 1), 0.0), 1.0)
        shape = 0.5 * (1.0 + math.cos(math.pi * t)) if cfg.kind == "cosine" else 1.0 - t
        f = cfg.final_factor + (1.0 - cfg.final_factor) * shape
    else:
        f = 1.0
    if cfg.warmup and step < cfg.warmup:
        f *= (step + 1) / cfg.warmup
    return float(f)


@dataclass(frozen=True)
class StepPlan:
    """What one training step does.

    Attributes:
        phase: ``supervised`` (pixel recipe), ``pretrain`` (pixel terms only, before the GAN
            phase), ``d_warmup`` (discriminator-only updates) or ``adversarial``.
        d_updates: Discriminator updates in this step (each on a fresh batch, except that the
            first one reuses the generator's batch in generator-first recipes).
        g_update: Whether the generator is updated.
        adv_step: Step index inside the GAN phase (for instance-noise schedules), or -1.
    """

    phase: Phase
    d_updates: int
    g_update: bool
    adv_step: int = -1


def plan_step(cfg: TrainConfig, step: int) -> StepPlan:
    """The :class:`StepPlan` of step ``step`` (0-based).

    Steps ``[0, pretrain)`` pretrain the generator; ``[pretrain, pretrain + d_warmup)`` train
    only the discriminator (mDCSRN's warm-up); afterwards every step makes ``n_critic``
    discriminator updates and one generator update, plus ``burst_steps`` extra discriminator
    updates every ``burst_every`` steps of the adversarial phase (mDCSRN's bursts).
    """
    if not RECIPES.get(cfg.recipe).adversarial:
        return StepPlan("supervised", 0, True)
    if step < cfg.pretrain_steps:
        return StepPlan("pretrain", 0, True)
    gan_step = step - cfg.pretrain_steps
    if gan_step < cfg.d_warmup_steps:
        return StepPlan("d_warmup", 1, False, gan_step)
    adv = gan_step - cfg.d_warmup_steps
    burst = cfg.burst_steps if cfg.burst_every and adv > 0 and adv % cfg.burst_every == 0 else 0
    return StepPlan("adversarial", cfg.n_critic + burst, True, gan_step)
