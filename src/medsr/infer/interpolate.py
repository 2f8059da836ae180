"""Perception-distortion control by network interpolation (Wang et al., ESRGAN, ECCVW 2018, 3.4).

A GAN-stage generator fine-tuned from a content-loss (PSNR) generator shares its architecture, so
their weights can be blended: ``theta = (1 - a) * theta_psnr + a * theta_gan``. ``a = 0`` gives the
PSNR model (smooth, highest PSNR), ``a = 1`` the GAN model (sharper texture); values in between
trade one for the other without retraining. The PSNR partner of a GAN model is the bundled model
it names (:attr:`medsr.artifact.zoo.BundledModel.psnr_model`) or the checkpoint its recipe started from
(``train.init_generator``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from medsr.artifact.zoo import BUNDLED, is_bundled_name, resolve_model
from medsr.errors import InputError


def psnr_partner(model_ref: str | os.PathLike[str], config: dict[str, Any]) -> Path:
    """The content-loss checkpoint a GAN model was fine-tuned from.

    Args:
        model_ref: The GAN model (bundled name or checkpoint path).
        config: The GAN checkpoint's resolved training config.

    Raises:
        InputError: When the model names no partner, or the partner is not installed.
    """

    ref = str(model_ref)
    partner = ""
    if is_bundled_name(ref):
        partner = BUNDLED[ref].psnr_model
    if not partner:
        partner = str((config.get("train") or {}).get("init_generator") or "")
    if not partner:
        raise InputError(
            model_ref,
            "--gan-weight needs a GAN model fine-tuned from a content-loss model "
            "(a bundled GAN model, or a recipe with train.init_generator); this one names none",
        )
    path = resolve_model(partner)
    if not path.is_file():
        raise InputError(path, f"the PSNR partner {partner!r} of {ref} is not found")
    return path


def interpolate_state(
    psnr: dict[str, torch.Tensor], gan: dict[str, torch.Tensor], weight: float
) -> dict[str, torch.Tensor]:
    """``(1 - weight) * psnr + weight * gan`` for every floating tensor (others from ``gan``).

    Raises:
        ValueError: When ``weight`` is outside [0, 1] or the two state dicts differ in keys or shapes.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"GAN weight must be in [0, 1], got {weight}")
    if set(psnr) != set(gan):
        raise ValueError("the two generators have different parameters")
    out = {}
    for key, g in gan.items():
        p = psnr[key]
        if p.shape != g.shape:
            raise ValueError(f"{key}: shape {tuple(p.shape)} != {tuple(g.shape)}")
        if g.is_floating_point():
            out[key] = torch.lerp(p.float(), g.float(), weight).to(g.dtype)
        else:
            out[key] = g.clone()
    return out
