"""Adversarial loss pairs: hand values, sign conventions and RaGAN's symmetries."""

from __future__ import annotations

import math

import pytest
import torch

from medsr.losses import (
    LOSSES,
    AdversarialLoss,
    HingeGANLoss,
    LSGANLoss,
    RelativisticAverageGANLoss,
    VanillaGANLoss,
    WGANLoss,
)

REAL = torch.tensor([[1.0], [3.0]])
FAKE = torch.tensor([[0.0], [2.0]])


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_vanilla_hand_values() -> None:
    loss = VanillaGANLoss()
    real, fake = torch.tensor([[2.0]]), torch.tensor([[-1.0]])
    torch.testing.assert_close(
        loss.d_loss(real, fake), torch.tensor(_softplus(-2.0) + _softplus(-1.0))
    )
    torch.testing.assert_close(loss.g_loss(fake), torch.tensor(_softplus(1.0)))


def test_lsgan_hand_values() -> None:
    torch.testing.assert_close(LSGANLoss().d_loss(REAL, FAKE), torch.tensor(2.0))
    torch.testing.assert_close(LSGANLoss().g_loss(FAKE), torch.tensor(0.5))
    zero = torch.zeros(3, 1)
    torch.testing.assert_close(LSGANLoss(sigmoid=True).d_loss(zero, zero), torch.tensor(0.25))
    torch.testing.assert_close(LSGANLoss(sigmoid=True).g_loss(zero), torch.tensor(0.125))
    # the sigmoid form is bounded: a hugely confident D costs at most 0.5 per term
    big = torch.full((2, 1), 1e4)
    torch.testing.assert_close(LSGANLoss(sigmoid=True).d_loss(-big, big), torch.tensor(1.0))


def test_wgan_and_hinge_hand_values() -> None:
    torch.testing.assert_close(WGANLoss().d_loss(REAL, FAKE), torch.tensor(-1.0))
    torch.testing.assert_close(WGANLoss().g_loss(FAKE), torch.tensor(-1.0))
    real, fake = torch.tensor([[0.5], [2.0]]), torch.tensor([[-2.0], [0.0]])
    torch.testing.assert_close(HingeGANLoss().d_loss(real, fake), torch.tensor(0.75))
    torch.testing.assert_close(HingeGANLoss().g_loss(fake), torch.tensor(1.0))


def test_ragan_hand_values() -> None:
    # mean(fake) = 1, mean(real) = 2: Dr = [0, 2], Df = [-2, 0]
    d = 0.5 * ((_softplus(0.0) + _softplus(-2.0)) / 2 + (_softplus(-2.0) + _softplus(0.0)) / 2)
    g = 0.5 * ((_softplus(0.0) + _softplus(2.0)) / 2 + (_softplus(2.0) + _softplus(0.0)) / 2)
    loss = RelativisticAverageGANLoss()
    torch.testing.assert_close(loss.d_loss(REAL, FAKE), torch.tensor(d))
    torch.testing.assert_close(loss.g_loss(FAKE, REAL), torch.tensor(g))


def test_ragan_symmetries(gen: torch.Generator) -> None:
    loss = RelativisticAverageGANLoss()
    real, fake = torch.randn(4, 1, 3, 3, generator=gen), torch.randn(4, 1, 3, 3, generator=gen)
    torch.testing.assert_close(loss.g_loss(fake, real), loss.d_loss(fake, real))
    torch.testing.assert_close(loss.d_loss(real + 5.0, fake + 5.0), loss.d_loss(real, fake))
    same = torch.randn(4, 1, generator=gen)
    torch.testing.assert_close(loss.d_loss(same, same), loss.g_loss(same, same))
    with pytest.raises(ValueError, match="real_logits"):
        loss.g_loss(fake)
    real = real.clone().requires_grad_(True)
    fake = fake.clone().requires_grad_(True)
    loss.g_loss(fake, real).backward()
    assert real.grad is None  # the real logits are detached in the generator loss
    assert fake.grad is not None


LOSS_OBJECTS: list[AdversarialLoss] = [
    VanillaGANLoss(),
    LSGANLoss(),
    LSGANLoss(sigmoid=True),
    WGANLoss(),
    HingeGANLoss(),
    RelativisticAverageGANLoss(),
]


@pytest.mark.parametrize("loss", LOSS_OBJECTS, ids=repr)
def test_sign_conventions(loss: AdversarialLoss) -> None:
    real = torch.tensor([[0.0], [0.2]])
    fake = torch.tensor([[1.0], [0.8]])
    for delta in (0.25, 0.5):
        assert loss.d_loss(real + delta, fake - delta) < loss.d_loss(real, fake)
    # G loss rises when the fakes look less real (LSGAN's optimum is exactly fake = 1)
    assert loss.g_loss(fake - 0.5, real) > loss.g_loss(fake, real)


@pytest.mark.parametrize("loss", LOSS_OBJECTS, ids=repr)
def test_float32_under_low_precision(loss: AdversarialLoss) -> None:
    real = torch.tensor([[0.5], [1.0]], dtype=torch.bfloat16)
    fake = torch.tensor([[-0.5], [0.0]], dtype=torch.bfloat16)
    assert loss.d_loss(real, fake).dtype == torch.float32
    assert loss.g_loss(fake, real).dtype == torch.float32


def test_registry_names() -> None:
    for name, cls in [
        ("vanilla", VanillaGANLoss),
        ("lsgan", LSGANLoss),
        ("wgan", WGANLoss),
        ("hinge", HingeGANLoss),
        ("ragan", RelativisticAverageGANLoss),
    ]:
        assert isinstance(LOSSES.build(name), cls)
    assert LOSSES.build("lsgan", sigmoid=True).sigmoid
