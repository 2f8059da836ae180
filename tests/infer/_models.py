"""Tiny random-init models and checkpoints shared by the inference tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medsr.artifact.checkpoint import Checkpoint, save_checkpoint
from medsr.artifact.spec import ModelSpec
from medsr.data.intensity import IntensityNorm
from medsr.models.generators import GENERATORS

MDCSRN_KW: dict[str, Any] = {"growth": 4, "num_blocks": 2, "num_units": 2}
SRRESNET2D_KW: dict[str, Any] = {"spatial_dims": 2, "scale": 2, "features": 8, "num_blocks": 2}
SRRESNET3D_KW: dict[str, Any] = {
    "spatial_dims": 3,
    "scale": (1, 2, 2),
    "features": 8,
    "num_blocks": 1,
    "outer_kernel_size": 3,
}


def build(name: str, kwargs: dict[str, Any], seed: int = 0) -> nn.Module:
    """A registered generator with seeded random weights and non-trivial BN statistics."""
    torch.manual_seed(seed)
    model = GENERATORS.build(name, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1, generator=gen)  # type: ignore[union-attr]
            m.running_var.uniform_(0.5, 1.5, generator=gen)  # type: ignore[union-attr]
    return model.eval()


def checkpoint(
    path: Path,
    name: str,
    kwargs: dict[str, Any],
    *,
    modality: str = "MR",
    norm: IntensityNorm | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """Save a checkpoint of :func:`build`'s model."""
    model = build(name, kwargs)
    dims = int(kwargs.get("spatial_dims", 3))
    s = kwargs.get("scale", 1)
    s3 = (s,) * dims if isinstance(s, int) else tuple(s)
    scale = s3 if dims == 3 else (1, *s3)
    ckpt = Checkpoint(
        model_name=name,
        model_kwargs=kwargs,
        modality=modality,
        spatial_dims=dims,
        scale=scale,  # type: ignore[arg-type]
        intensity=norm or IntensityNorm(kind="percentile"),
        state_dict=model.state_dict(),
        config=config or {},
    )
    return save_checkpoint(ckpt, path)


def spec(dims: int, scale: tuple[int, int, int], *, modality: str = "MR", **kw: Any) -> ModelSpec:
    """A spec for a bare network."""
    norm = kw.pop("intensity", IntensityNorm(kind="minmax"))
    return ModelSpec(
        name="test", spatial_dims=dims, scale=scale, modality=modality, intensity=norm, **kw
    )


def rand(shape: tuple[int, ...], seed: int = 0, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)
