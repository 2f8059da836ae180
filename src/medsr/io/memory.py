"""The memory the work after a read will need, declared before the read.

Every reader checks the shape its file's header declares before it reads any voxel
(:func:`medsr.io._common.check_size`). On its own a reader knows only what reading costs; the
command that reads knows what comes next (a network with its accumulators, FFTs, an upsampled
output). It says so by reading inside :func:`memory_plan`::

    with memory_plan(MemoryPlan("medsr enhance with mdcsrn", bytes_per_voxel=30.0)):
        volume = read_volume(path)

and the reader then refuses an image whose whole pipeline would not fit in the memory available,
before allocating anything. The per-command factors are measured (:mod:`medsr.memory`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryPlan:
    """Peak memory of the work that follows a read, in terms of the image's declared size.

    Attributes:
        what: The work, for the message (``"medsr enhance with mdcsrn-t1-k2"``).
        bytes_per_voxel: Peak bytes per input voxel while the work runs, the input volume
            itself included.
        fixed_bytes: Peak bytes that do not grow with the input (the network's activations on
            one batch of windows, the model).
    """

    what: str
    bytes_per_voxel: float
    fixed_bytes: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bytes_per_voxel) and self.bytes_per_voxel >= 0):
            raise ValueError(f"bytes_per_voxel must be finite and >= 0, got {self.bytes_per_voxel}")
        if not (math.isfinite(self.fixed_bytes) and self.fixed_bytes >= 0):
            raise ValueError(f"fixed_bytes must be finite and >= 0, got {self.fixed_bytes}")

    def need(self, shape: Sequence[int]) -> float:
        """Peak bytes of the work on an image of ``shape`` (spatial, or with channels)."""
        return math.prod(int(n) for n in shape) * self.bytes_per_voxel + self.fixed_bytes


_PLAN: ContextVar[MemoryPlan | None] = ContextVar("medsr_memory_plan", default=None)


@contextlib.contextmanager
def memory_plan(plan: MemoryPlan | None) -> Iterator[MemoryPlan | None]:
    """Reads inside this block refuse images whose ``plan`` would not fit in memory.

    Args:
        plan: What the work after the read needs; None: only the read itself is checked.
    """
    token = _PLAN.set(plan)
    try:
        yield plan
    finally:
        _PLAN.reset(token)


def current_plan() -> MemoryPlan | None:
    """The plan of the innermost :func:`memory_plan` block, or None outside any."""
    return _PLAN.get()
