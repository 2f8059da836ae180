"""Generator registry: one explicit line per architecture.

Build with ``GENERATORS.build("rrdbnet", spatial_dims=3, ...)`` or look the class up with
``GENERATORS.get(name)``. Named configurations (presets) are plain kwargs dicts next to their
class (e.g. :data:`~medsr.models.generators.srresnet.SRGAN_X3_PRESET`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from medsr.models.generators.dfgan_unet import DFGANUNet
from medsr.models.generators.mdcsrn import MDCSRN
from medsr.models.generators.rrdbnet import DISGAN_3D_PRESET, ESRGAN_2D_PRESET, RRDBNet
from medsr.models.generators.srrescgan import SRResCGAN
from medsr.models.generators.srrescyc_lr import SRResCycLRGenerator
from medsr.models.generators.srresnet import SRGAN_X3_PRESET, SRResNet
from medsr.registry import Registry

GENERATORS: Registry[Callable[..., nn.Module]] = Registry("generator")

GENERATORS.register("mdcsrn", MDCSRN)
GENERATORS.register("srresnet", SRResNet)
GENERATORS.register("rrdbnet", RRDBNet)
GENERATORS.register("dfgan_unet", DFGANUNet)
GENERATORS.register("attn_dfgan_unet", partial(DFGANUNet, attention=True))
GENERATORS.register("srrescgan", SRResCGAN)
GENERATORS.register("srrescyc_lr", SRResCycLRGenerator)

__all__ = [
    "DISGAN_3D_PRESET",
    "ESRGAN_2D_PRESET",
    "GENERATORS",
    "MDCSRN",
    "SRGAN_X3_PRESET",
    "DFGANUNet",
    "RRDBNet",
    "SRResCGAN",
    "SRResCycLRGenerator",
    "SRResNet",
]
