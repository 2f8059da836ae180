"""Instance noise for discriminator inputs, with a decaying schedule.

Sønderby et al., "Amortised MAP Inference for Image Super-resolution", ICLR 2017 (instance
noise); used by DISGAN (Wang et al., ICCVW 2023) and the 3-player GAN (Wang et al.,
arXiv:2303.13900), which add one Gaussian sample to both the real and the generated batch before
the discriminator, with a standard deviation that decays linearly from 1 to 0 over training.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Schedule = Literal["linear", "exponential"]


class InstanceNoise:
    """Gaussian noise ``N(0, std(step)**2)`` added to discriminator inputs.

    Schedules (``s = std``, ``N = steps``; ``std(step) = 0`` for ``step >= N``):

    * ``"linear"``: ``s * (1 - step / N)``;
    * ``"exponential"``: ``s * final_ratio ** (step / N)``, i.e. it falls by ``final_ratio``
      over ``N`` steps and is then switched off.

    Args:
        std: Standard deviation at step 0 (DISGAN: 1, for intensities in [0, 1]).
        steps: Number of steps (or epochs: the unit is the caller's) until the noise is off.
        schedule: ``"linear"`` or ``"exponential"``.
        final_ratio: Decay factor reached at ``steps`` by the exponential schedule.

    Raises:
        ValueError: On a negative std, ``steps < 1`` or a ratio outside (0, 1).
    """

    def __init__(
        self,
        *,
        std: float = 1.0,
        steps: int,
        schedule: Schedule = "linear",
        final_ratio: float = 1e-3,
    ) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std!r}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps!r}")
        if schedule not in ("linear", "exponential"):
            raise ValueError(f"schedule must be 'linear' or 'exponential', got {schedule!r}")
        if not 0 < final_ratio < 1:
            raise ValueError(f"final_ratio must be in (0, 1), got {final_ratio!r}")
        self.std = std
        self.steps = steps
        self.schedule = schedule
        self.final_ratio = final_ratio

    def std_at(self, step: int) -> float:
        """Standard deviation at ``step`` (0-based)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step!r}")
        if step >= self.steps:
            return 0.0
        frac = step / self.steps
        if self.schedule == "linear":
            return self.std * (1.0 - frac)
        return float(self.std * self.final_ratio**frac)

    def sample(self, like: Tensor, step: int, *, generator: torch.Generator) -> Tensor:
        """One noise tensor shaped like ``like`` (zeros once the schedule has ended).

        Args:
            like: Template tensor (shape, dtype and device of the result).
            step: Current step.
            generator: Source of the noise.

        Returns:
            Noise tensor.
        """
        std = self.std_at(step)
        if std == 0.0:
            return torch.zeros_like(like)
        noise = torch.randn(like.shape, generator=generator, device=generator.device)
        return (noise * std).to(device=like.device, dtype=like.dtype)

    def __call__(
        self, *inputs: Tensor, step: int, generator: torch.Generator
    ) -> tuple[Tensor, ...]:
        """Add one shared noise sample to every input (DISGAN adds the same noise to real and
        fake batches).

        Args:
            inputs: Tensors of one shape.
            step: Current step.
            generator: Source of the noise.

        Returns:
            The noisy inputs, in order.

        Raises:
            ValueError: If no input is given or the shapes differ.
        """
        if not inputs:
            raise ValueError("InstanceNoise needs at least one tensor")
        if any(x.shape != inputs[0].shape for x in inputs):
            raise ValueError(
                f"InstanceNoise inputs must share one shape, got {[tuple(x.shape) for x in inputs]}"
            )
        noise = self.sample(inputs[0], step, generator=generator)
        return tuple(x + noise for x in inputs)
