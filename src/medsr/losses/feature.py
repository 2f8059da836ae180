"""Feature (perceptual) loss on the activations of a feature extractor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medsr.losses._checks import same_shape


def _as_list(features: Tensor | Sequence[Tensor] | Mapping[str, Tensor]) -> list[Tensor]:
    if isinstance(features, Tensor):
        return [features]
    if isinstance(features, Mapping):
        return list(features.values())
    return list(features)


class FeatureLoss(nn.Module):
    """Distance between extractor features of ``pred`` and ``target``.

    Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
    Super-Resolution", ECCV 2016; with VGG-19 ``conv5_4`` it is ESRGAN's perceptual loss, with
    the MedicalNet ResNet-10 it is DISGAN's feature loss. Target features are computed without
    gradient; gradients reach ``pred`` (and the extractor's parameters if they are trainable).

    Args:
        extractor: Module returning a tensor, a list of tensors or a dict of tensors.
        criterion: ``"l1"`` or ``"mse"`` per feature map.
        layer_weights: One weight per returned feature map (default all 1).

    Raises:
        ValueError: On an unknown criterion, or a weight count that does not match the features.

    Shape:
        pred, target: whatever the extractor accepts; output: scalar.
    """

    def __init__(
        self,
        *,
        extractor: nn.Module,
        criterion: Literal["l1", "mse"] = "l1",
        layer_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if criterion not in ("l1", "mse"):
            raise ValueError(f"criterion must be 'l1' or 'mse', got {criterion!r}")
        self.extractor = extractor
        self.criterion = criterion
        self.layer_weights = None if layer_weights is None else [float(w) for w in layer_weights]

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        same_shape("FeatureLoss", pred, target)
        feats_pred = _as_list(self.extractor(pred))
        with torch.no_grad():
            feats_target = _as_list(self.extractor(target))
        weights = self.layer_weights or [1.0] * len(feats_pred)
        if len(weights) != len(feats_pred):
            raise ValueError(
                f"FeatureLoss got {len(weights)} layer_weights for {len(feats_pred)} feature maps; "
                "give one weight per feature map the extractor returns"
            )
        dist = F.l1_loss if self.criterion == "l1" else F.mse_loss
        total = pred.new_zeros((), dtype=torch.float32)
        for w, fp, ft in zip(weights, feats_pred, feats_target):
            total = total + w * dist(fp.float(), ft.float())
        return total
