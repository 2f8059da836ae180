"""Discriminator regularisers: WGAN-GP gradient penalty, R1 penalty, WGAN weight clipping.

Mixed precision: the penalties take the gradient with :func:`torch.autograd.grad` of the
critic's *unscaled* output, so a ``GradScaler`` never enters the penalty by accident. When a
scaler is passed, the output is scaled before the gradient (to avoid fp16 underflow, as in
PyTorch's AMP gradient-penalty recipe) and the gradient is divided by the scale in float32 before
the norm, so the penalty value does not depend on the scale. Norms are always computed in
float32 with autocast disabled and an epsilon inside the square root (finite gradient at 0).
The returned penalty is then added to the discriminator loss and scaled with it as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from medsr.losses._checks import same_shape

Critic = nn.Module


def _input_grad(
    critic: Critic,
    x: Tensor,
    extra_inputs: Sequence[Tensor],
    scaler: torch.amp.GradScaler | None,
) -> Tensor:
    """Float32 gradient of the summed per-sample mean critic output with respect to ``x``."""
    out = critic(x, *extra_inputs)
    per_sample = out.float().flatten(1).mean(1)
    total = per_sample.sum()
    if scaler is not None and scaler.is_enabled():
        scale = scaler.get_scale()
        (grad,) = torch.autograd.grad(scaler.scale(total), x, create_graph=True)
        return grad.float() / scale
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    return grad.float()


def _sq_norm(grad: Tensor) -> Tensor:
    with torch.autocast(device_type=grad.device.type, enabled=False):
        return grad.float().flatten(1).pow(2).sum(1)


class GradientPenalty:
    """WGAN-GP penalty, Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.

    ``weight * mean((sqrt(||grad_x D(x_hat)||**2 + eps) - target_norm)**2)`` on random
    interpolates ``x_hat = a real + (1 - a) fake`` with one ``a ~ U(0, 1)`` per sample drawn
    from the given generator. For a critic with a map of outputs, ``D(x_hat)`` per sample is the
    mean of the map.

    Args:
        weight: ``lambda`` (10 in the paper).
        target_norm: The gradient norm the penalty pulls towards (1).
        eps: Added inside the square root.

    Raises:
        ValueError: On a negative weight or eps.
    """

    def __init__(
        self, *, weight: float = 10.0, target_norm: float = 1.0, eps: float = 1e-12
    ) -> None:
        if weight < 0 or eps < 0:
            raise ValueError(f"weight and eps must be >= 0, got {weight!r} and {eps!r}")
        self.weight = weight
        self.target_norm = target_norm
        self.eps = eps

    def __call__(
        self,
        critic: Critic,
        real: Tensor,
        fake: Tensor,
        *,
        generator: torch.Generator,
        extra_inputs: Sequence[Tensor] = (),
        scaler: torch.amp.GradScaler | None = None,
    ) -> Tensor:
        """Compute the penalty.

        Args:
            critic: The discriminator (called as ``critic(x_hat, *extra_inputs)``).
            real: Real batch.
            fake: Generated batch (detached here).
            generator: Source of the interpolation weights.
            extra_inputs: Further critic inputs, e.g. the low-dose image of a DFGAN critic.
            scaler: The ``GradScaler`` of a mixed-precision run, if any.

        Returns:
            Scalar float32 penalty, differentiable with respect to the critic's parameters.

        Shape:
            real, fake: ``(B, C, *S)``, identical.
        """
        same_shape("GradientPenalty", real, fake, "real", "fake")
        shape = (real.shape[0],) + (1,) * (real.ndim - 1)
        alpha = torch.rand(shape, generator=generator, device=generator.device).to(real.device)
        mixed = alpha * real.detach().float() + (1 - alpha) * fake.detach().float()
        mixed = mixed.to(real.dtype).requires_grad_(True)
        grad = _input_grad(critic, mixed, extra_inputs, scaler)
        with torch.autocast(device_type=grad.device.type, enabled=False):
            norm = torch.sqrt(_sq_norm(grad) + self.eps)
            return self.weight * ((norm - self.target_norm) ** 2).mean()


class R1Penalty:
    """R1 penalty, Mescheder et al., "Which Training Methods for GANs do actually Converge?",
    ICML 2018: ``gamma / 2 * mean(||grad_x D(x_real)||**2)``.

    Args:
        gamma: Penalty weight.

    Raises:
        ValueError: If ``gamma`` is negative.
    """

    def __init__(self, *, gamma: float = 10.0) -> None:
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.gamma = gamma

    def __call__(
        self,
        critic: Critic,
        real: Tensor,
        *,
        extra_inputs: Sequence[Tensor] = (),
        scaler: torch.amp.GradScaler | None = None,
    ) -> Tensor:
        """Compute the penalty on real samples (see :class:`GradientPenalty` for the args)."""
        x = real.detach().requires_grad_(True)
        grad = _input_grad(critic, x, extra_inputs, scaler)
        with torch.autocast(device_type=grad.device.type, enabled=False):
            return 0.5 * self.gamma * _sq_norm(grad).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip_value: float = 0.01) -> None:
    """Clamp every parameter of ``module`` to ``[-clip_value, clip_value]`` in place.

    The Lipschitz constraint of the original WGAN (Arjovsky et al., ICML 2017, ``c = 0.01``);
    call it after every critic optimiser step.

    Args:
        module: The critic.
        clip_value: Bound ``c``.

    Raises:
        ValueError: If ``clip_value`` is not positive.
    """
    if clip_value <= 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value!r}")
    for p in module.parameters():
        p.clamp_(-clip_value, clip_value)
