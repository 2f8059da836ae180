"""WGAN-GP, R1 and weight clipping: analytic values, determinism, autocast and GradScaler."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medsr.losses import LOSSES, GradientPenalty, R1Penalty, WGANLoss, clip_weights_
from medsr.models.discriminators import PatchGANDiscriminator

SHAPE = (3, 1, 4, 4)


def _linear_critic(norm: float, gen: torch.Generator) -> nn.Module:
    """``x -> <w, x> + b`` with ``||w|| = norm``: its input gradient norm is ``norm`` everywhere."""
    lin = nn.Linear(16, 1)
    with torch.no_grad():
        w = torch.randn(1, 16, generator=gen)
        lin.weight.copy_(w / w.norm() * norm)
        lin.bias.fill_(0.3)
    return nn.Sequential(nn.Flatten(1), lin)


def _small_critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(1), nn.Linear(64, 1)
    )


def _batches(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(SHAPE, generator=gen), torch.rand(SHAPE, generator=gen)


def test_zero_for_unit_lipschitz_linear_critic(gen: torch.Generator) -> None:
    real, fake = _batches(gen)
    gp = GradientPenalty()
    value = gp(_linear_critic(1.0, gen), real, fake, generator=torch.Generator().manual_seed(1))
    assert value.dtype == torch.float32
    assert value.abs() < 1e-10


@pytest.mark.parametrize(("norm", "expected"), [(2.0, 10.0), (0.5, 2.5)])
def test_positive_otherwise(norm: float, expected: float, gen: torch.Generator) -> None:
    real, fake = _batches(gen)
    value = GradientPenalty()(
        _linear_critic(norm, gen), real, fake, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(value, torch.tensor(expected), rtol=1e-5, atol=0)


def test_map_output_uses_per_sample_mean() -> None:
    # D(x) = 4 x per pixel; per-sample mean over 16 pixels -> gradient 4/16 per pixel, norm 1
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(4.0)
    real, fake = torch.rand(SHAPE), torch.rand(SHAPE)
    value = GradientPenalty()(conv, real, fake, generator=torch.Generator().manual_seed(0))
    assert value.abs() < 1e-10


def test_deterministic_in_generator_and_differentiable(gen: torch.Generator) -> None:
    critic = _small_critic()
    real, fake = _batches(gen)
    gp = GradientPenalty()
    a = gp(critic, real, fake, generator=torch.Generator().manual_seed(5))
    b = gp(critic, real, fake, generator=torch.Generator().manual_seed(5))
    c = gp(critic, real, fake, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    state = torch.get_rng_state()
    a.backward()
    torch.testing.assert_close(torch.get_rng_state(), state)  # the global RNG is never read
    weights = [critic[0].weight, critic[0].bias, critic[3].weight]  # the last bias has no say
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in weights)


def test_extra_inputs_for_a_difference_critic(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    critic = PatchGANDiscriminator(
        channels=(4, 8), strides=(2, 2), norm="none", difference_input=True
    )
    real, fake, x_lq = (torch.rand(2, 1, 16, 16, generator=gen) for _ in range(3))
    value = GradientPenalty()(
        critic, real, fake, generator=torch.Generator().manual_seed(0), extra_inputs=(x_lq,)
    )
    assert value > 0 and torch.isfinite(value)


def test_invariant_to_grad_scaler(gen: torch.Generator) -> None:
    real, fake = _batches(gen)
    gp, wgan = GradientPenalty(), WGANLoss()

    def d_step(scaler: torch.amp.GradScaler | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        critic = _small_critic()
        penalty = gp(critic, real, fake, generator=torch.Generator().manual_seed(3), scaler=scaler)
        loss = wgan.d_loss(critic(real), critic(fake)) + penalty
        (loss if scaler is None else scaler.scale(loss)).backward()
        scale = 1.0 if scaler is None else scaler.get_scale()
        return penalty.detach(), [p.grad / scale for p in critic.parameters()]

    ref_penalty, ref_grads = d_step(None)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    penalty, grads = d_step(scaler)
    torch.testing.assert_close(penalty, ref_penalty, rtol=1e-6, atol=0)
    for g, ref in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-7)


def test_float32_norm_under_autocast(gen: torch.Generator) -> None:
    real, fake = _batches(gen)
    critic = _linear_critic(2.0, gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = GradientPenalty()(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, torch.tensor(10.0), rtol=2e-2, atol=0)


def test_r1_penalty(gen: torch.Generator) -> None:
    real, _ = _batches(gen)
    torch.testing.assert_close(
        R1Penalty(gamma=10.0)(_linear_critic(2.0, gen), real), torch.tensor(20.0), rtol=1e-5, atol=0
    )
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    torch.testing.assert_close(
        R1Penalty(gamma=1.0)(_linear_critic(3.0, gen), real, scaler=scaler), torch.tensor(4.5)
    )


def test_clip_weights() -> None:
    critic = _small_critic()
    clip_weights_(critic, 0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    assert any(p.abs().max() == 0.01 for p in critic.parameters())
    with pytest.raises(ValueError, match="clip_value"):
        clip_weights_(critic, 0.0)


def test_validation_and_registry() -> None:
    with pytest.raises(ValueError, match="weight"):
        GradientPenalty(weight=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        R1Penalty(gamma=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        GradientPenalty()(
            _small_critic(),
            torch.rand(SHAPE),
            torch.rand(2, 1, 4, 4),
            generator=torch.Generator(),
        )
    assert LOSSES.build("gradient_penalty").weight == 10.0
    assert isinstance(LOSSES.build("r1", gamma=5.0), R1Penalty)
