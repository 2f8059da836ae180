"""Feature loss plumbing with toy and randomly initialised extractors."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from medsr.losses import LOSSES, FeatureLoss
from medsr.models.features import ResNet10Features3D, VGG19Features


class _TwoMaps(nn.Module):
    def forward(self, x: Tensor) -> list[Tensor]:
        return [x, 2 * x]


def test_hand_value_with_layer_weights() -> None:
    pred, target = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    loss = FeatureLoss(extractor=_TwoMaps(), layer_weights=(1.0, 0.5))
    torch.testing.assert_close(loss(pred, target), torch.tensor(1.0 + 0.5 * 2.0))
    mse = FeatureLoss(extractor=_TwoMaps(), criterion="mse")
    torch.testing.assert_close(mse(pred, target), torch.tensor(1.0 + 4.0))


def test_vgg_plumbing_gradients_reach_pred_only(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    loss = LOSSES.build("feature", extractor=VGG19Features(layer="relu2_2", allow_random=True))
    target = torch.rand(2, 1, 16, 16, generator=gen)
    assert loss(target, target) == 0
    pred = torch.rand(2, 1, 16, 16, generator=gen, requires_grad=True)
    value = loss(pred, target)
    assert value > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.extractor.parameters())


def test_resnet_plumbing_trainable_extractor(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    extractor = ResNet10Features3D(layers=("layer1",), frozen=False)
    loss = FeatureLoss(extractor=extractor)
    pred = torch.rand(2, 1, 8, 8, 8, generator=gen, requires_grad=True)
    loss(pred, torch.rand(2, 1, 8, 8, 8, generator=gen)).backward()
    assert pred.grad is not None
    assert extractor.conv1.weight.grad is not None  # trains with the generator (3-player GAN)


def test_errors() -> None:
    with pytest.raises(ValueError, match="criterion"):
        FeatureLoss(extractor=_TwoMaps(), criterion="l2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layer_weights"):
        FeatureLoss(extractor=_TwoMaps(), layer_weights=(1.0,))(
            torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
        )
