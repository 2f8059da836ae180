"""What a registered baseline is: a task, an array function and one line of description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["upsample", "denoise"]


@dataclass(frozen=True)
class Baseline:
    """A reference method every learned model is compared against.

    Attributes:
        task: ``"upsample"``: ``fn(x, scale=...)`` refines the grid by integer per-axis factors;
            ``"denoise"``: ``fn(x)`` keeps the grid.
        fn: Function on a ``(D, H, W)`` (or ``(H, W)``) float array.
        description: One line for ``medsr baseline --help`` and the docs.
        noise: For denoisers driven by a noise level: the estimator of that level on the input
            (``noise(x) -> sigma``); ``fn`` then takes ``sigma=`` and the sigma used is recorded.
    """

    task: Task
    fn: Callable[..., np.ndarray]
    description: str
    noise: Callable[[np.ndarray], float] | None = None
