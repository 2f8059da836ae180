"""Feature extractors for feature / perceptual losses (loaded only from local weight files).

One ``register`` line per component; build one with ``FEATURES.build(name, **kwargs)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from medsr.models.features.resnet10_3d import ResNet10Features3D
from medsr.models.features.vgg19 import VGG19Features
from medsr.registry import Registry

FEATURES: Registry[Callable[..., nn.Module]] = Registry("feature extractor")

FEATURES.register("resnet10_3d", ResNet10Features3D)
FEATURES.register("vgg19", VGG19Features)

__all__ = ["FEATURES", "ResNet10Features3D", "VGG19Features"]
