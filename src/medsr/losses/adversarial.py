"""Adversarial losses as generator / discriminator pairs on raw logits.

Every class has ``d_loss(real_logits, fake_logits)`` (minimised by the discriminator) and
``g_loss(fake_logits, real_logits=None)`` (minimised by the generator). The discriminators return
raw logits; the link function (sigmoid, identity, hinge) lives here. Logits of any shape are
accepted (``(B, 1)`` or per-patch / per-voxel maps) and reduced by the mean. The arithmetic runs
in float32, so the losses are safe under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from medsr.losses._checks import same_shape


def _bce(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class AdversarialLoss:
    """Base class: one GAN objective as a pair of losses."""

    #: Whether :meth:`g_loss` needs the real logits (relativistic losses).
    needs_real_logits_for_g = False

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Discriminator loss (lower when real logits rise and fake logits fall)."""
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Generator loss (lower when the fake logits look real to the discriminator)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class VanillaGANLoss(AdversarialLoss):
    """Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, with the non-saturating
    generator loss.

    ``d = BCE(real, 1) + BCE(fake, 0)``; ``g = BCE(fake, 1)`` (binary cross-entropy on logits).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _bce(real_logits.float(), 1.0) + _bce(fake_logits.float(), 0.0)

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return _bce(fake_logits.float(), 1.0)


class LSGANLoss(AdversarialLoss):
    """Least-squares GAN, Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.

    ``d = 0.5 mean((s(real) - 1)**2) + 0.5 mean(s(fake)**2)``; ``g = 0.5 mean((s(fake) - 1)**2)``
    with ``s`` the identity (Mao et al.: the D output is linear) or, with ``sigmoid=True``, the
    logistic function (the DFGAN form, which squares probabilities and bounds the loss).

    Args:
        sigmoid: Apply a sigmoid to the logits before the squares.
    """

    def __init__(self, *, sigmoid: bool = False) -> None:
        self.sigmoid = sigmoid

    def _s(self, logits: Tensor) -> Tensor:
        x = logits.float()
        return torch.sigmoid(x) if self.sigmoid else x

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return (
            0.5 * ((self._s(real_logits) - 1) ** 2).mean()
            + 0.5 * (self._s(fake_logits) ** 2).mean()
        )

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return 0.5 * ((self._s(fake_logits) - 1) ** 2).mean()

    def __repr__(self) -> str:
        return f"LSGANLoss(sigmoid={self.sigmoid})"


class WGANLoss(AdversarialLoss):
    """Wasserstein GAN critic objective, Arjovsky et al., ICML 2017.

    ``d = mean(fake) - mean(real)``; ``g = -mean(fake)``. Pair it with weight clipping
    (:func:`medsr.losses.penalties.clip_weights_`) or with the gradient penalty of Gulrajani et
    al. (:class:`medsr.losses.penalties.GradientPenalty`, WGAN-GP).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.float().mean() - real_logits.float().mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.float().mean()


class HingeGANLoss(AdversarialLoss):
    """Hinge loss, Lim & Ye, "Geometric GAN", arXiv:1705.02894, 2017 (as in SAGAN / BigGAN).

    ``d = mean(relu(1 - real)) + mean(relu(1 + fake))``; ``g = -mean(fake)``.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits.float()).mean() + F.relu(1 + fake_logits.float()).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.float().mean()


class RelativisticAverageGANLoss(AdversarialLoss):
    """Relativistic average GAN (RaGAN), Jolicoeur-Martineau, ICLR 2019, in ESRGAN's form.

    With ``Dr = real - mean(fake)`` and ``Df = fake - mean(real)`` (means over the batch axis,
    per output position, as in DISGAN's code): ``d = 0.5 (BCE(Dr, 1) + BCE(Df, 0))`` and
    ``g = 0.5 (BCE(Dr, 0) + BCE(Df, 1))``. Hence ``g_loss(f, r) == d_loss(f, r)`` with the roles
    swapped, and both are invariant to adding a constant to every logit. ``g_loss`` requires the
    real logits; they are detached (the generator step must not train the discriminator).
    """

    needs_real_logits_for_g = True

    @staticmethod
    def _rel(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        same_shape("RelativisticAverageGANLoss", real, fake, "real_logits", "fake_logits")
        real, fake = real.float(), fake.float()
        return real - fake.mean(0, keepdim=True), fake - real.mean(0, keepdim=True)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        dr, df = self._rel(real_logits, fake_logits)
        return 0.5 * (_bce(dr, 1.0) + _bce(df, 0.0))

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError(
                "RelativisticAverageGANLoss.g_loss needs real_logits: call "
                "g_loss(D(fake), real_logits=D(real))"
            )
        dr, df = self._rel(real_logits.detach(), fake_logits)
        return 0.5 * (_bce(dr, 0.0) + _bce(df, 1.0))
