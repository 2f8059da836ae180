"""Divergence guard: notice a run going wrong, say why, and decide whether to keep trying.

Four checks on the scalars of every step:

* **non-finite**: any loss or statistic is NaN or infinite;
* **discriminator collapse**: the discriminator loss stays below ``collapse_d_loss`` while the
  generator's adversarial loss stays above ``collapse_g_adv`` for ``collapse_steps`` steps in a
  row (the discriminator wins outright and the generator gets no useful gradient);
* **constant output**: the generator's output standard deviation stays below ``constant_std``
  for ``constant_steps`` steps in a row (the black / flat images the original studies met
  after 20-50 epochs);
* **loss spike**: the generator's content loss (every ``g_*`` term but the adversarial one and
  the total) exceeds ``spike_factor`` times its median over the last ``spike_window`` steps for
  ``spike_steps`` steps in a row (a too-high learning rate blowing up: an mDCSRN run at lr 5e-4
  jumped from 0.008 to 0.57 at step ~780 and never came back to its level).

The trainer answers a trip by rolling back to the last good checkpoint and lowering the
learning rates (``lr_factor``); :meth:`DivergenceGuard.record_recovery` counts the attempts and
raises :class:`TrainingDiverged` after ``max_recoveries`` failed ones. A recovery counts as
successful once a checkpoint is written past the step that tripped.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any

from medsr.config.schema import GuardConfig
from medsr.errors import MedsrError


class TrainingDiverged(MedsrError):
    """The run diverged again after the allowed number of recoveries."""


class DivergenceGuard:
    """Stateful checks over per-step scalars (see the module docstring).

    Args:
        cfg: Thresholds and counts.
        adversarial: Name of the adversarial loss (collapse is not checked for ``wgan``,
            whose critic loss has no floor at zero).
    """

    def __init__(self, cfg: GuardConfig, *, adversarial: str | None = None) -> None:
        self.cfg = cfg
        self.check_collapse = adversarial not in (None, "wgan") and cfg.collapse_steps > 0
        self.collapse_run = 0
        self.constant_run = 0
        self.spike_run = 0
        self.content: deque[float] = deque(maxlen=max(cfg.spike_window, 1))
        self.failures = 0
        self.failed_at = -1
        self.history: list[dict[str, Any]] = []

    def check(self, scalars: dict[str, float]) -> str | None:
        """Update the counters with one step's scalars; the reason to roll back, or None."""
        if not self.cfg.enabled:
            return None
        bad = {k: v for k, v in scalars.items() if not math.isfinite(float(v))}
        if bad:
            return "non-finite values: " + ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
        if self.check_collapse and "d_loss" in scalars and "g_adv" in scalars:
            collapsed = (
                scalars["d_loss"] < self.cfg.collapse_d_loss
                and scalars["g_adv"] > self.cfg.collapse_g_adv
            )
            self.collapse_run = self.collapse_run + 1 if collapsed else 0
            if self.collapse_run >= self.cfg.collapse_steps:
                return (
                    f"discriminator collapse: d_loss < {self.cfg.collapse_d_loss:g} while g_adv > "
                    f"{self.cfg.collapse_g_adv:g} for {self.collapse_run} steps "
                    f"(last d_loss={scalars['d_loss']:.3g}, g_adv={scalars['g_adv']:.3g})"
                )
        reason = self._spike(scalars)
        if reason:
            return reason
        if self.cfg.constant_steps > 0 and "pred_std" in scalars:
            flat = scalars["pred_std"] < self.cfg.constant_std
            self.constant_run = self.constant_run + 1 if flat else 0
            if self.constant_run >= self.cfg.constant_steps:
                return (
                    f"constant generator output: std < {self.cfg.constant_std:g} for "
                    f"{self.constant_run} steps (last std={scalars['pred_std']:.3g})"
                )
        return None

    def _spike(self, scalars: dict[str, float]) -> str | None:
        if self.cfg.spike_steps <= 0:
            return None
        terms = [
            float(v)
            for k, v in scalars.items()
            if k.startswith("g_") and k != "g_total" and not k.startswith("g_adv")
        ]
        if not terms:
            return None
        value = sum(terms)
        ready = len(self.content) >= min(50, self.cfg.spike_window)
        median = statistics.median(self.content) if ready else 0.0
        if ready and median > 0 and value > self.cfg.spike_factor * median:
            self.spike_run += 1
            if self.spike_run >= self.cfg.spike_steps:
                return (
                    f"loss spike: content loss {value:.3g} > {self.cfg.spike_factor:g} x its "
                    f"median {median:.3g} over the last {len(self.content)} steps for "
                    f"{self.spike_run} steps"
                )
            return None
        self.spike_run = 0
        self.content.append(value)
        return None

    def record_recovery(self, *, step: int, reason: str) -> None:
        """Count one rollback at ``step``.

        Raises:
            TrainingDiverged: When this is more than ``max_recoveries`` failures in a row.
        """
        self.failures += 1
        self.failed_at = max(self.failed_at, step)
        self.collapse_run = self.constant_run = self.spike_run = 0
        self.history.append({"step": step, "reason": reason})
        if self.failures > self.cfg.max_recoveries:
            trail = "; ".join(f"step {h['step']}: {h['reason']}" for h in self.history[-4:])
            raise TrainingDiverged(
                f"training diverged {self.failures} times without recovering (max_recoveries="
                f"{self.cfg.max_recoveries}); last causes: {trail}. Lower the learning rates, "
                "the adversarial weight, or enable train.amp=off / gradient clipping"
            )

    def record_checkpoint(self, step: int) -> None:
        """A checkpoint at ``step`` is good; past the last failure it resets the failure count."""
        if step > self.failed_at:
            self.failures = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "collapse_run": self.collapse_run,
            "constant_run": self.constant_run,
            "spike_run": self.spike_run,
            "content": list(self.content),
            "failures": self.failures,
            "failed_at": self.failed_at,
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.collapse_run = int(state["collapse_run"])
        self.constant_run = int(state["constant_run"])
        self.spike_run = int(state.get("spike_run", 0))  # absent in checkpoints before the check
        self.content.clear()
        self.content.extend(float(v) for v in state.get("content", []))
        self.failures = int(state["failures"])
        self.failed_at = int(state["failed_at"])
        self.history = list(state["history"])
