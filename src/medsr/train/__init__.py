"""Training: steps per recipe, the generic loop, checkpoints, EMA, the divergence guard, logging.

``train_from_config(cfg, run_dir)`` (or ``medsr train CONFIG``) trains one experiment; see
``docs/training.md``. Submodules are imported on use, so importing this package is cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from medsr.train.trainer import Trainer

if TYPE_CHECKING:
    from medsr.config.schema import ExperimentConfig
    from medsr.train.trainer import TrainResult


def train_from_config(
    cfg: ExperimentConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Any = (),
) -> TrainResult:
    """Train ``cfg`` into ``run_dir`` (or continue it with ``resume``) and return the summary."""

    return Trainer(cfg, run_dir, resume=resume, progress=progress, callbacks=callbacks).fit()


__all__ = ["train_from_config"]
