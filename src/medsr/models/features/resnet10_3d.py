"""3D ResNet-10 feature extractor in the MedicalNet layout.

Chen, Ma, Zheng, "Med3D: Transfer Learning for 3D Medical Image Analysis", arXiv:1904.00625,
2019 (MedicalNet, ``resnet_10.pth`` with shortcut type B); used as a frozen feature extractor by
DISGAN (Wang et al., ICCVW 2023) and as a trained one by the 3-player GAN (Wang et al.,
arXiv:2303.13900). The module and parameter names match MedicalNet's, so its weight files load
directly (the ``module.`` prefix is stripped, the segmentation head ``conv_seg`` is skipped).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from torch import Tensor, nn

from medsr.models.features._weights import load_checked, read_state_dict
from medsr.nn.validation import check_input

LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4")


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(planes, planes, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != planes:  # MedicalNet shortcut type B: 1x1x1 conv + BN
            self.downsample = nn.Sequential(
                nn.Conv3d(cin, planes, 1, stride, bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        result: Tensor = self.relu(out + shortcut)
        return result


class ResNet10Features3D(nn.Module):
    """MedicalNet ResNet-10 backbone returning intermediate feature maps.

    Layout: conv 7x7x7 stride 2 (1 -> 64), BN, ReLU (``"stem"``), max-pool 3 stride 2, then one
    BasicBlock per layer: 64 (``layer1``), 128 stride 2 (``layer2``), 256 dilation 2
    (``layer3``), 512 dilation 4 (``layer4``); MedicalNet keeps layers 3-4 at stride 1.

    Args:
        layers: Which feature maps to return (in network order) from ``stem``, ``layer1`` ...
            ``layer4``.
        frozen: Freeze every parameter and keep batch-norm statistics fixed (DISGAN); ``False``
            lets the extractor train (3-player GAN).
        zscore: Standardise each input volume (zero mean, unit variance) first, like MedicalNet's
            pre-processing; off by default.

    Raises:
        ValueError: On an unknown layer name.

    Shape:
        Input ``(B, 1, D, H, W)`` with every size >= 8; ``layer4`` is ``(B, 512, D/8, H/8, W/8)``
        (rounded up).
    """

    def __init__(
        self,
        *,
        layers: Sequence[str] = ("layer1", "layer2", "layer3", "layer4"),
        frozen: bool = True,
        zscore: bool = False,
    ) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in LAYERS]
        if not layers or unknown:
            raise ValueError(f"layers must be a non-empty subset of {LAYERS}, got {list(layers)!r}")
        self.return_layers = tuple(layers)
        self.frozen = frozen
        self.zscore = zscore
        self.conv1 = nn.Conv3d(1, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(_BasicBlock(64, 64, 1, 1))
        self.layer2 = nn.Sequential(_BasicBlock(64, 128, 2, 1))
        self.layer3 = nn.Sequential(_BasicBlock(128, 256, 1, 2))
        self.layer4 = nn.Sequential(_BasicBlock(256, 512, 1, 4))
        self._last = max(LAYERS.index(name) for name in self.return_layers)
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> ResNet10Features3D:
        """Switch mode; a frozen extractor always stays in eval mode."""
        return super().train(mode and not self.frozen)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        layers: Sequence[str] = ("layer1", "layer2", "layer3", "layer4"),
        frozen: bool = True,
        zscore: bool = False,
    ) -> ResNet10Features3D:
        """Build the extractor and load MedicalNet weights from a local ``.pth`` file.

        Args:
            path: E.g. MedicalNet's ``resnet_10.pth`` or ``resnet_10_23dataset.pth``.
            layers: See the class.
            frozen: See the class.
            zscore: See the class.

        Returns:
            The loaded extractor.

        Raises:
            FileNotFoundError: If the file is missing.
            ValueError: Listing missing / unexpected keys and shape mismatches.
        """
        model = cls(layers=layers, frozen=frozen, zscore=zscore)
        load_checked(
            model, read_state_dict(path), source=os.fspath(path), ignore_prefixes=("conv_seg.",)
        )
        return model

    def forward(self, x: Tensor) -> list[Tensor]:
        check_input(x, model=type(self).__name__, spatial_dims=3, in_channels=1, min_size=8)
        if self.zscore:
            flat = x.flatten(1)
            mean = flat.mean(1).view(-1, 1, 1, 1, 1)
            std = flat.std(1).view(-1, 1, 1, 1, 1)
            x = (x - mean) / (std + 1e-6)
        feats: list[Tensor] = []
        out = self.relu(self.bn1(self.conv1(x)))
        stages = (self.layer1, self.layer2, self.layer3, self.layer4)
        for index, name in enumerate(LAYERS):
            if index > self._last:
                break
            if index == 1:
                out = stages[0](self.maxpool(out))
            elif index > 1:
                out = stages[index - 1](out)
            if name in self.return_layers:
                feats.append(out)
        return feats
