"""Progress bars with ETA on stderr for long commands (tqdm), silent in pipes, logs and ``--quiet``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

Report = Callable[[int, int], None]


@contextlib.contextmanager
def progress_bars(desc: str, unit: str, *, enabled: bool) -> Iterator[Report | None]:
    """A ``report(done, total)`` callback that drives one tqdm bar per run of the work: a call
    with ``done == 0`` starts a new bar (e.g. the next volume). Yields None when not ``enabled``;
    the bars show only when stderr is a terminal (tqdm's ``disable=None``)."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bars: list[Any] = []

    def report(done: int, total: int) -> None:
        if done == 0 or not bars:
            if bars:
                bars[-1].close()
            bars.append(tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None))
        bars[-1].update(done - bars[-1].n)

    try:
        yield report
    finally:
        for bar in bars:
            bar.close()
