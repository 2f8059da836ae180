"""Exponential moving average (EMA) of generator weights.

``shadow = decay * shadow + (1 - decay) * weights`` after every generator update from step
``start`` on (before it the shadow copies the weights); buffers (batch-norm statistics) are
copied. The shadow is what checkpoints save for inference and what validation evaluates.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """EMA of a module's parameters.

    Args:
        model: The generator (the shadow starts as a copy of it).
        decay: Weight of the old average, in (0, 1).
        start: First step that averages; earlier updates copy.

    Raises:
        ValueError: For a decay outside (0, 1) or a negative start.
    """

    def __init__(self, model: nn.Module, *, decay: float, start: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        if start < 0:
            raise ValueError(f"EMA start must be >= 0, got {start!r}")
        self.decay = decay
        self.start = start
        self.shadow = copy.deepcopy(model).eval()
        self.shadow.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, *, step: int) -> None:
        """Fold ``model``'s current weights into the average (``step`` is the 0-based step)."""
        weight = 0.0 if step < self.start else self.decay
        for s, p in zip(self.shadow.parameters(), model.parameters(), strict=True):
            if weight == 0.0:
                s.copy_(p)
            else:
                s.lerp_(p.detach(), 1.0 - weight)
        for sb, b in zip(self.shadow.buffers(), model.buffers(), strict=True):
            sb.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow's state dict."""
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the shadow."""
        self.shadow.load_state_dict(state)
