"""Losses: pixel, gradient, SSIM, cycle, feature, adversarial pairs and discriminator penalties.

One ``register`` line per component; build one with ``LOSSES.build(name, **kwargs)``.
Adversarial entries are objects with ``d_loss`` / ``g_loss``; penalty entries are called with the
critic. :class:`InstanceNoise` is a discriminator-input transform, exported but not a loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medsr.losses.adversarial import (
    AdversarialLoss,
    HingeGANLoss,
    LSGANLoss,
    RelativisticAverageGANLoss,
    VanillaGANLoss,
    WGANLoss,
)
from medsr.losses.cycle import CycleConsistencyLoss
from medsr.losses.feature import FeatureLoss
from medsr.losses.gradient import GradientDifferenceLoss, TotalVariationLoss
from medsr.losses.instance_noise import InstanceNoise
from medsr.losses.penalties import GradientPenalty, R1Penalty, clip_weights_
from medsr.losses.pixel import CharbonnierLoss, DifferenceMapMSELoss, L1Loss, MSELoss
from medsr.losses.ssim import SSIMLoss
from medsr.losses.tissue import TissueMeanLoss
from medsr.registry import Registry

LOSSES: Registry[Callable[..., Any]] = Registry("loss")

LOSSES.register("l1", L1Loss)
LOSSES.register("mse", MSELoss)
LOSSES.register("charbonnier", CharbonnierLoss)
LOSSES.register("difference_mse", DifferenceMapMSELoss)
LOSSES.register("gdl", GradientDifferenceLoss)
LOSSES.register("tv", TotalVariationLoss)
LOSSES.register("ssim", SSIMLoss)
LOSSES.register("tissue_mean", TissueMeanLoss)
LOSSES.register("cycle_l1", CycleConsistencyLoss)
LOSSES.register("feature", FeatureLoss)
LOSSES.register("vanilla", VanillaGANLoss)
LOSSES.register("lsgan", LSGANLoss)
LOSSES.register("wgan", WGANLoss)
LOSSES.register("hinge", HingeGANLoss)
LOSSES.register("ragan", RelativisticAverageGANLoss)
LOSSES.register("gradient_penalty", GradientPenalty)
LOSSES.register("r1", R1Penalty)

__all__ = [
    "LOSSES",
    "AdversarialLoss",
    "CharbonnierLoss",
    "CycleConsistencyLoss",
    "DifferenceMapMSELoss",
    "FeatureLoss",
    "GradientDifferenceLoss",
    "GradientPenalty",
    "HingeGANLoss",
    "InstanceNoise",
    "L1Loss",
    "LSGANLoss",
    "MSELoss",
    "R1Penalty",
    "RelativisticAverageGANLoss",
    "SSIMLoss",
    "TissueMeanLoss",
    "TotalVariationLoss",
    "VanillaGANLoss",
    "WGANLoss",
    "clip_weights_",
]
