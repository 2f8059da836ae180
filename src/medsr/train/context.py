"""What a step function works with: networks, optimisers, losses, precision and updates.

:meth:`StepContext.update` is the one place where a loss becomes a parameter update: zero the
gradients, backward (scaled by the ``GradScaler`` under fp16), average the gradients over
ranks, unscale, clip, step, update the scale, then (WGAN) clamp the critic's weights.
:meth:`StepContext.only` switches gradients on for the networks being updated and off for the
others (so a generator update does not fill the discriminator's gradients, and vice versa).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from medsr.losses import AdversarialLoss, GradientPenalty, InstanceNoise, clip_weights_
from medsr.train.terms import GeneratorTerms

Batch = dict[str, Tensor]
NextBatch = Callable[[], Batch]


@dataclass
class StepContext:
    """Everything the step functions of :mod:`medsr.train.steps` need.

    Attributes:
        nets: Networks by role.
        optimizers: Optimisers by role (only trained networks have one).
        scalers: ``GradScaler`` per update group, keyed by the group's first role.
        terms: The generator's loss terms.
        adversarial: The adversarial pair, or None.
        adv_weight: Weight of the generator's adversarial term.
        penalty: WGAN-GP penalty, or None.
        noise: Instance noise on discriminator inputs, or None.
        options: The recipe's options (``RecipeSpec.step_options``: the cycle recipe's weights,
            a recipe's parsed ``train.options``), or None.
        paired: Whether batches are paired (cycle recipe switches terms on it).
        device: Compute device.
        amp_dtype: Autocast dtype, or None for full precision.
        generator: Device generator for penalty interpolation and instance noise.
        grad_clip: Max gradient norm per role (0: no clipping).
        weight_clip: WGAN weight clipping: after every update of a discriminator role its
            parameters are clamped to ``[-weight_clip, weight_clip]`` (0: no clipping).
        reduce_grads: Averages gradients over ranks (no-op in one process).
    """

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    scalers: dict[str, torch.amp.GradScaler]
    terms: GeneratorTerms
    adversarial: AdversarialLoss | None
    adv_weight: float
    penalty: GradientPenalty | None
    noise: InstanceNoise | None
    options: Any
    paired: bool
    device: torch.device
    amp_dtype: torch.dtype | None
    generator: torch.Generator
    grad_clip: dict[str, float] = field(default_factory=dict)
    weight_clip: float = 0.0
    reduce_grads: Callable[[Iterable[nn.Parameter]], None] = lambda params: None

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Autocast to ``amp_dtype`` (disabled in full precision)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @contextlib.contextmanager
    def only(self, *roles: str) -> Iterator[None]:
        """Gradients on for the trained networks in ``roles``, off for the other trained ones."""
        for role, net in self.nets.items():
            if role in self.optimizers:
                net.requires_grad_(role in roles)
        yield

    def update(self, roles: Sequence[str], loss: Tensor) -> None:
        """One optimisation step of the networks in ``roles`` on ``loss``."""
        opts = [self.optimizers[r] for r in roles if r in self.optimizers]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(roles[0])
        use_scaler = scaler is not None and scaler.is_enabled()
        if use_scaler:
            assert scaler is not None
            scaler.scale(loss).backward()
        else:
            loss.backward()
        for role, opt in zip([r for r in roles if r in self.optimizers], opts):
            params = list(self.nets[role].parameters())
            self.reduce_grads(params)
            if use_scaler:
                assert scaler is not None
                scaler.unscale_(opt)
            clip = self.grad_clip.get(role, 0.0)
            if clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
            if use_scaler:
                assert scaler is not None
                scaler.step(opt)
            else:
                opt.step()
        if use_scaler:
            assert scaler is not None
            scaler.update()
        if self.weight_clip > 0:
            for role in roles:
                if role.startswith("discriminator") and role in self.optimizers:
                    clip_weights_(self.nets[role], self.weight_clip)

    def condition(self, x_lq: Tensor, role: str = "discriminator") -> tuple[Tensor, ...]:
        """Extra discriminator inputs: the low-quality image for DFGAN's difference critic."""
        return (x_lq,) if getattr(self.nets[role], "difference_input", False) else ()

    def noisy(self, *xs: Tensor, step: int) -> tuple[Tensor, ...]:
        """Add one shared instance-noise sample to discriminator inputs (identity without)."""
        if self.noise is None or step < 0:
            return xs
        return self.noise(*xs, step=step, generator=self.generator)
