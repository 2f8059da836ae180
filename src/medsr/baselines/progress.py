"""Slice progress of the per-slice denoisers (``nlm``, ``bilateral``, ``bm3d``).

Inside ``with slice_progress(report):`` every :func:`each_slice` call reports
``report(done, total)`` slices: once with ``done = 0`` before the first slice and after every
slice. ``medsr baseline`` drives its progress bar with it; without a block nothing is reported.
The reporter lives in a context variable, so the library functions keep their signatures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np

#: ``report(slices_done, slices_total)``.
SliceReport = Callable[[int, int], None]
_PROGRESS: ContextVar[SliceReport | None] = ContextVar("medsr_baseline_progress", default=None)


@contextlib.contextmanager
def slice_progress(report: SliceReport) -> Iterator[None]:
    """Report the slices of every :func:`each_slice` call inside the block to ``report``."""
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def each_slice(arr: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` applied to every slice of the ``(D, H, W)`` array ``arr``, stacked, with progress.

    Shape:
        arr: ``(D, H, W)``; ``fn`` maps ``(H, W)`` to ``(H, W)``; output ``(D, H, W)``.
    """
    report = _PROGRESS.get()
    total = int(arr.shape[0])
    if report is not None:
        report(0, total)
    out = []
    for i, plane in enumerate(arr):
        out.append(fn(plane))
        if report is not None:
            report(i + 1, total)
    return np.stack(out)
