"""Learnable projection onto an L2 ball whose radius comes from a noise estimate.

The proximal step of ResDNet / SRResCGAN (Lefkimmiatis, CVPR 2018; Umer et al., CVPR Workshops
2020): the network's residual ``r`` (its estimate of the noise) is projected onto the ball of
radius ``eps = exp(alpha) * sigma * sqrt(N - 1)``, ``N`` the number of values per sample and
``sigma`` the noise standard deviation, i.e. ``r * eps / max(||r||_2, eps)``. ``alpha`` is learnt.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class L2BallProjection(nn.Module):
    """Project each sample onto ``{r : ||r||_2 <= exp(alpha) * sigma * sqrt(N - 1)}``.

    Args:
        alpha_init: Initial ``alpha`` (SRResCGAN starts at ``log 2``).

    Shape:
        - Input: ``r`` ``(B, C, *n)`` and ``sigma`` ``(B,)``
        - Output: ``(B, C, *n)``
    """

    #: The result depends on the whole sample (its norm and the noise estimate): tiling changes
    #: it. Read by :func:`medsr.models.analysis.receptive_field`.
    has_global_context = True

    def __init__(self, *, alpha_init: float = math.log(2.0)) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor([float(alpha_init)]))

    def forward(self, r: Tensor, sigma: Tensor) -> Tensor:
        count = r[0].numel()
        eps = torch.exp(self.alpha) * sigma.to(r.dtype) * math.sqrt(max(count - 1, 1))
        norm = r.flatten(1).norm(dim=1)
        factor = eps / torch.maximum(norm, eps).clamp_min(torch.finfo(r.dtype).tiny)
        return r * factor.reshape(-1, *([1] * (r.ndim - 1)))
