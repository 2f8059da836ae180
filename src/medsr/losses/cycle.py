"""Cycle-consistency loss (CycleGAN; the HR -> LR -> HR cycle of SRResCycGAN)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from medsr.losses._checks import same_shape


class CycleConsistencyLoss(nn.Module):
    """L1 distance between an image and its reconstruction after a round trip.

    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
    Networks", ICCV 2017; Umer & Micheloni, "Deep Cyclic Generative Adversarial Residual
    Convolutional Networks for Real Image Super-Resolution", ECCVW 2020 (SRResCycGAN).

    Shape:
        reconstructed, original: identical shapes; output: scalar.
    """

    def forward(self, reconstructed: Tensor, original: Tensor) -> Tensor:
        same_shape("CycleConsistencyLoss", reconstructed, original, "reconstructed", "original")
        return F.l1_loss(reconstructed, original)
