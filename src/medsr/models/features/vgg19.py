"""VGG-19 feature extractor for 2D perceptual / feature losses (torchvision layout).

Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015. Used as the content loss of SRGAN (Ledig et al., CVPR 2017, ``relu5_4``) and ESRGAN
(Wang et al., ECCVW 2018, ``conv5_4`` before the activation). The modules are numbered exactly
like torchvision's ``vgg19().features`` (``features.34`` is conv5_4), so torchvision's ImageNet
file loads directly. Weights are only ever read from a local file; nothing is downloaded.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from medsr.errors import ConfigError
from medsr.models.features._weights import load_checked, read_state_dict
from medsr.nn.validation import check_input

#: torchvision's file name for ``VGG19_Weights.IMAGENET1K_V1``.
EXPECTED_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CFG: tuple[int | str, ...] = (
    *(64, 64, "M"),
    *(128, 128, "M"),
    *(256, 256, 256, 256, "M"),
    *(512, 512, 512, 512, "M"),
    *(512, 512, 512, 512, "M"),
)


def _layer_names() -> list[str]:
    names: list[str] = []
    block, conv = 1, 1
    for item in _CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


#: Layer name -> index in ``features`` (``"conv5_4" -> 34``, ``"relu5_4" -> 35``).
LAYER_INDEX = {name: i for i, name in enumerate(_layer_names())}


class VGG19Features(nn.Module):
    """VGG-19 ``features`` up to one layer, with the input mapping ImageNet weights expect.

    The input is mapped from ``input_range`` to [0, 1], a one-channel image is repeated to three
    channels, and the ImageNet mean / std normalisation is applied.

    Args:
        layer: Output layer, e.g. ``"conv5_4"`` (ESRGAN, before the activation), ``"relu5_4"``
            (SRGAN) or ``"relu2_2"``.
        weights: Local torchvision VGG-19 file (``vgg19-dcbb9e9d.pth``); required unless
            ``allow_random``.
        allow_random: Accept random weights (tests of the plumbing only; the features are then
            meaningless for a loss).
        frozen: Freeze the parameters (the usual perceptual-loss setting).
        input_range: ``(low, high)`` intensity range of the input images.
        in_channels: 1 (repeated to RGB) or 3.

    Raises:
        ConfigError: If no weights are given without ``allow_random``, or an argument is invalid.

    Shape:
        Input ``(B, C, H, W)``; output ``(B, 512, H/16, W/16)`` for ``conv5_4``.
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        *,
        layer: str = "conv5_4",
        weights: str | os.PathLike[str] | None = None,
        allow_random: bool = False,
        frozen: bool = True,
        input_range: tuple[float, float] = (0.0, 1.0),
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if layer not in LAYER_INDEX:
            raise ConfigError(f"unknown VGG-19 layer {layer!r}; use one of {list(LAYER_INDEX)}")
        if in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 or 3, got {in_channels!r}")
        low, high = (float(v) for v in input_range)
        if not high > low:
            raise ConfigError(
                f"input_range must be (low, high) with high > low, got {input_range!r}"
            )
        if weights is None and not allow_random:
            raise ConfigError(
                "the VGG-19 feature loss needs ImageNet weights from a local file: pass "
                f"weights='/path/to/{EXPECTED_FILE}' (torchvision's VGG19_Weights.IMAGENET1K_V1 "
                "file); medsr never downloads weights. Only tests may pass allow_random=True."
            )
        self.layer = layer
        self.in_channels = in_channels
        self.input_range = (low, high)
        self.frozen = frozen
        last = LAYER_INDEX[layer]
        modules: list[nn.Module] = []
        prev = 3
        for item in _CFG:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(prev, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                prev = int(item)
        self.features = nn.Sequential(*modules[: last + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            unused = ("classifier.", *(f"features.{i}." for i in range(last + 1, len(modules))))
            load_checked(
                self, read_state_dict(weights), source=os.fspath(weights), ignore_prefixes=unused
            )
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Switch mode; a frozen extractor always stays in eval mode."""
        return super().train(mode and not self.frozen)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, spatial_dims=2, in_channels=self.in_channels)
        low, high = self.input_range
        x = (x - low) / (high - low)
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        out: Tensor = self.features(x)
        return out
