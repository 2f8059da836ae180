"""The x3 SRGAN of the brain-MRI / chest X-ray report: layer sequences and parameter counts.

The generator and discriminator presets must follow the report's order of layers exactly; the
counts are derived by hand below (9x9 outer and 3x3 inner kernels, 64 features, SRGAN's
discriminator widths, 150x150 images) and asserted, so a layer added or dropped fails here.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from medsr.losses.adversarial import VanillaGANLoss
from medsr.models.discriminators import DISCRIMINATORS
from medsr.models.discriminators.vgg_style import SRGAN_X3_DISCRIMINATOR_PRESET
from medsr.models.generators import GENERATORS, SRGAN_X3_PRESET
from medsr.nn.residual import ResidualBlock
from tests.models.contract import Case, check_contract


def _conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout


def _kinds(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in module.children()]


def _generator() -> nn.Module:
    with torch.device("meta"):
        return GENERATORS.build("srresnet", **SRGAN_X3_PRESET)


def _discriminator() -> nn.Module:
    with torch.device("meta"):
        return DISCRIMINATORS.build("vgg_style", **SRGAN_X3_DISCRIMINATOR_PRESET)


def test_generator_layer_sequence() -> None:
    g = _generator()
    assert _kinds(g.head) == ["Conv2d", "LeakyReLU"]
    blocks = list(g.body.children())[:-2]
    assert len(blocks) == 7 and all(isinstance(b, ResidualBlock) for b in blocks)
    for block in blocks:
        assert _kinds(block.body) == [
            "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU",
        ]  # fmt: skip
    # after the blocks: conv - LeakyReLU (no norm); the head's output is added in forward
    assert _kinds(g.body)[-2:] == ["Conv2d", "LeakyReLU"]
    (stage,) = g.upsample.children()
    assert stage.conv.out_channels == 64 * 9 and stage.shuffle.scale == (3, 3)
    assert isinstance(stage.act, nn.LeakyReLU)
    assert _kinds(g.tail) == ["Conv2d", "Tanh"] and g.tail[0].out_channels == 1
    slopes = {m.negative_slope for m in g.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_generator_parameter_count() -> None:
    head = _conv(9, 1, 64)
    block = 2 * _conv(3, 64, 64) + 2 * 2 * 64  # two convs, two BNs (weight + bias)
    expected = head + 7 * block + _conv(3, 64, 64) + _conv(3, 64, 64 * 9) + _conv(9, 64, 1)
    assert expected == 898_497
    assert sum(p.numel() for p in _generator().parameters()) == expected


def test_generator_adds_the_first_layer_to_the_body() -> None:
    torch.manual_seed(0)  # the test owns the global RNG for parameter init
    g = GENERATORS.build("srresnet", **{**SRGAN_X3_PRESET, "features": 8}).eval()
    x = torch.rand(1, 1, 6, 5) * 2 - 1
    with torch.no_grad():
        out = g(x)
        h = g.head(x)
        manual = g.tail(g.upsample(h + g.body(h)))
    assert out.shape == (1, 1, 18, 15)
    torch.testing.assert_close(out, manual)
    assert out.abs().max() < 1.0  # tanh range


def test_discriminator_layer_sequence() -> None:
    d = _discriminator()
    kinds = _kinds(d.features)
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    # SRGAN's first unit has no BN; every later conv is conv - BN - LeakyReLU
    assert kinds[:3] == ["Conv2d", "LeakyReLU", "Conv2d"]
    assert kinds.count("BatchNorm2d") == 7
    # dropout 0.5 after the last convolution unit, then flatten, dense 1024, LeakyReLU, dense 1
    assert kinds[-2:] == ["LeakyReLU", "Dropout"] and d.features[-1].p == 0.5
    assert isinstance(d.reduce, nn.Flatten)
    assert _kinds(d.head) == ["Linear", "LeakyReLU", "Linear"]
    assert d.head[0].in_features == 512 * 10 * 10 and d.head[0].out_features == 1024
    assert d.head[2].out_features == 1
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules())  # the loss owns the link


def test_discriminator_parameter_count() -> None:
    widths = [64, 64, 128, 128, 256, 256, 512, 512]
    convs = sum(_conv(3, a, b) for a, b in zip([1, *widths[:-1]], widths))
    norms = sum(2 * w for w in widths[1:])
    dense = (512 * 10 * 10) * 1024 + 1024 + 1024 + 1
    assert convs + norms + dense == 57_118_785
    assert sum(p.numel() for p in _discriminator().parameters()) == convs + norms + dense


def test_logits_with_bce_equal_the_reports_sigmoid_and_bce() -> None:
    real = torch.linspace(-6.0, 6.0, 13).reshape(13, 1)
    fake = torch.linspace(-3.0, 5.0, 13).reshape(13, 1)

    def bce(p: torch.Tensor, target: float) -> torch.Tensor:
        return F.binary_cross_entropy(torch.sigmoid(p), torch.full_like(p, target))

    loss = VanillaGANLoss()
    torch.testing.assert_close(loss.d_loss(real, fake), bce(real, 1.0) + bce(fake, 0.0))
    torch.testing.assert_close(loss.g_loss(fake), bce(fake, 1.0))


def test_small_discriminator_with_feature_dropout_keeps_the_contract() -> None:
    case = Case(
        "vgg_style",
        {"patch_size": 24, "channels": (8, 16), "dense_features": 16, "feature_dropout": 0.5},
        (2, 1, 24, 24),
        (2, 1),
        (2, 1, 24, 30),
    )
    check_contract(DISCRIMINATORS.get("vgg_style"), case)


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_bad_feature_dropout_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="feature_dropout"):
        DISCRIMINATORS.build("vgg_style", patch_size=32, feature_dropout=value)


def test_bad_body_end_is_refused() -> None:
    with pytest.raises(ValueError, match="body_end"):
        GENERATORS.build("srresnet", body_end="relu")
