"""Run logging: a JSONL line for every step's scalars and every event, a progress bar, and
TensorBoard when it is installed.

``log.jsonl`` lines are ``{"step": s, "time": seconds since start, <scalar>: value, ...}``;
events add ``"event": name`` (``validation``, ``checkpoint``, ``rollback``, ``resume``,
``summary``). On resume the lines after the checkpoint's step are dropped, so the file reads as
one uninterrupted run.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, TextIO


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def truncate_log(path: Path, *, after_step: int) -> None:
    """Drop lines whose ``step`` is greater than ``after_step`` (and any torn last line)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if int(rec.get("step", 0)) <= after_step:
            kept.append(line)
    path.write_text("".join(f"{k}\n" for k in kept), encoding="utf-8")


class RunLogger:
    """JSONL + progress bar + optional TensorBoard for one run (rank 0 only; others pass
    ``enabled=False``).

    Args:
        run_dir: The run folder.
        total_steps: Steps of the whole run (for the bar's ETA).
        start_step: First step of this process (after a resume).
        enabled: Write anything at all.
        progress: Show a tqdm bar (None: only on a terminal).
        postfix_every: Steps between progress-bar postfix refreshes.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        total_steps: int,
        start_step: int = 0,
        enabled: bool = True,
        progress: bool | None = None,
        postfix_every: int = 10,
    ) -> None:
        self.enabled = enabled
        self.postfix_every = postfix_every
        self.t0 = time.perf_counter()
        self._file: TextIO | None = None
        self._bar: Any = None
        self._tb: Any = None
        if not enabled:
            return
        self.path = run_dir / "log.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total_steps,
            initial=start_step,
            disable=None if progress is None else not progress,
            dynamic_ncols=True,
            unit="step",
            desc=run_dir.name,
        )
        try:  # optional dependency
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        except Exception:  # tensorboard missing or broken: JSONL is enough
            self._tb = None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One step's scalars (every step)."""
        if not self.enabled:
            return
        self._write({"step": step, **values})
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, v, step)
        if self._bar is not None:
            self._bar.update(1)
            if step % self.postfix_every == 0:
                shown = {k: f"{v:.3g}" for k, v in values.items() if k in _POSTFIX}
                self._bar.set_postfix(shown, refresh=False)

    def rewind(self, step: int) -> None:
        """Move the progress bar back to ``step`` (after a rollback)."""
        if self._bar is not None:
            self._bar.n = step
            self._bar.refresh()

    def event(self, step: int, name: str, **fields: Any) -> None:
        """An event line (flushed at once)."""
        if not self.enabled:
            return
        self._write({"step": step, "event": name, **fields})
        self.flush()
        if self._tb is not None and name == "validation":
            for k, v in fields.items():
                if isinstance(v, int | float):
                    self._tb.add_scalar(f"val/{k}", v, step)

    def message(self, text: str) -> None:
        """A line for the user, printed above the progress bar."""
        if not self.enabled:
            return
        if self._bar is not None and not self._bar.disable:
            self._bar.write(text)
        else:
            import sys

            print(text, file=sys.stderr)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        record = {"time": round(time.perf_counter() - self.t0, 3), **record}
        self._file.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")


_POSTFIX = ("g_total", "d_loss", "g_adv", "d_gp", "pred_std")
