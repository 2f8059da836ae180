"""Discriminators (critics). Every one returns raw logits; the losses own the link function.

One ``register`` line per component; build one with ``DISCRIMINATORS.build(name, **kwargs)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from medsr.models.discriminators.dwt_unet import DWTUNetDiscriminator
from medsr.models.discriminators.mdcsrn_critic import MDCSRNCritic, mdcsrn_critic
from medsr.models.discriminators.patchgan import PatchGANDiscriminator, dfgan_discriminator
from medsr.models.discriminators.unet_sn import UNetDiscriminatorSN
from medsr.models.discriminators.vgg_style import VGGStyleDiscriminator
from medsr.registry import Registry

DISCRIMINATORS: Registry[Callable[..., nn.Module]] = Registry("discriminator")

DISCRIMINATORS.register("vgg_style", VGGStyleDiscriminator)
DISCRIMINATORS.register("mdcsrn_critic", mdcsrn_critic)
DISCRIMINATORS.register("patchgan", PatchGANDiscriminator)
DISCRIMINATORS.register("dfgan", dfgan_discriminator)
DISCRIMINATORS.register("dwt_unet", DWTUNetDiscriminator)
DISCRIMINATORS.register("unet_sn", UNetDiscriminatorSN)

__all__ = [
    "DISCRIMINATORS",
    "DWTUNetDiscriminator",
    "MDCSRNCritic",
    "PatchGANDiscriminator",
    "UNetDiscriminatorSN",
    "VGGStyleDiscriminator",
    "dfgan_discriminator",
    "mdcsrn_critic",
]
