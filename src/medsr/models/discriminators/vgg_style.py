"""SRGAN / VGG-style discriminator (critic), 2D and 3D.

Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network", CVPR 2017 (the discriminator of Fig. 4). The mDCSRN WGAN critic (full-shape layer norm,
pooled head) is :mod:`medsr.models.discriminators.mdcsrn_critic`; the bundled ``mdcsrn-t1-k2``
model was trained against this class in 3D with per-sample layer norm and a 512-unit dense head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from torch import Tensor, nn

from medsr.nn import factory
from medsr.nn.validation import check_conv_stack, check_input

Norm = Literal["batch", "layer", "instance", "none"]
Head = Literal["flatten", "pool"]

#: The discriminator of the x3 SRGAN of the brain-MRI / chest X-ray report: SRGAN's eight
#: conv - BN - LeakyReLU units (64-64-128-128-256-256-512-512), dropout 0.5 after the
#: convolutions, flatten, dense 1024 + LeakyReLU, one output for 150x150 images. The report ends
#: with a sigmoid and binary cross-entropy; we return the logit and the ``vanilla`` loss applies
#: BCE-with-logits, which is the same function of the logit (``BCE(sigmoid(z), y)``), computed
#: without the sigmoid's overflow. 57,118,785 parameters (docs/models.md).
SRGAN_X3_DISCRIMINATOR_PRESET: dict[str, Any] = {
    "patch_size": 150,
    "dense_features": 1024,
    "feature_dropout": 0.5,
}


def _patch_tuple(patch_size: int | Sequence[int], spatial_dims: int) -> tuple[int, ...]:
    if isinstance(patch_size, int):
        return (patch_size,) * spatial_dims
    values = tuple(int(p) for p in patch_size)
    if len(values) != spatial_dims:
        raise ValueError(
            f"patch_size {patch_size!r} has {len(values)} entries; give one int or "
            f"{spatial_dims} ints for spatial_dims={spatial_dims}"
        )
    return values


class VGGStyleDiscriminator(nn.Module):
    """Stride-1 / stride-2 3x3 conv pairs, then a dense head to one raw logit per sample.

    Layout: for every width ``c`` in ``channels`` (times ``width_multiplier``): conv3 stride 1,
    norm, LeakyReLU; conv3 stride 2, norm, LeakyReLU (the very first conv has no norm, as in
    SRGAN). Head ``"flatten"``: flatten the last feature map (its size follows from
    ``patch_size``, as in SRGAN), dense ``dense_features``, LeakyReLU, optional dropout, dense 1.
    Head ``"pool"``: global average pooling instead of the flatten, so any input size works.
    ``feature_dropout`` puts a dropout on the last feature map, after all the convolutions and
    before the flatten / pooling (the x3 SRGAN of the brain-MRI / chest X-ray report, with 0.5).

    Args:
        spatial_dims: 2 or 3.
        in_channels: Image channels.
        patch_size: Training patch size (one int or one per axis); fixes the dense head size
            when ``head="flatten"`` and is then the only accepted input size.
        channels: Widths of the conv pairs before the multiplier.
        width_multiplier: Scales every conv width (rounded, at least 1).
        norm: ``"batch"`` (SRGAN), ``"layer"`` (per-sample over channels and space with a
            per-channel affine; the WGAN-GP critic of mDCSRN), ``"instance"`` or ``"none"``.
        dense_features: Units of the hidden dense layer.
        dropout: Dropout probability after the hidden dense layer; 0 disables it.
        head: ``"flatten"`` or ``"pool"``.
        negative_slope: LeakyReLU slope.
        feature_dropout: Dropout probability on the last feature map (after the convolutions);
            0 disables it.

    Raises:
        ValueError: On an invalid argument; the message says which value to use.

    Shape:
        Input ``(B, C, *S)``; output ``(B, 1)`` raw logits (no sigmoid: the loss owns the link).
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 2,
        in_channels: int = 1,
        patch_size: int | Sequence[int] = 96,
        channels: Sequence[int] = (64, 128, 256, 512),
        width_multiplier: float = 1.0,
        norm: Norm = "batch",
        dense_features: int = 1024,
        dropout: float = 0.0,
        head: Head = "flatten",
        negative_slope: float = 0.2,
        feature_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_conv_stack(spatial_dims, in_channels, channels)
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be > 0, got {width_multiplier!r}")
        if norm not in ("batch", "layer", "instance", "none"):
            raise ValueError(f"norm must be 'batch', 'layer', 'instance' or 'none', got {norm!r}")
        if head not in ("flatten", "pool"):
            raise ValueError(f"head must be 'flatten' or 'pool', got {head!r}")
        if dense_features < 1:
            raise ValueError(f"dense_features must be >= 1, got {dense_features!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if not 0.0 <= feature_dropout < 1.0:
            raise ValueError(f"feature_dropout must be in [0, 1), got {feature_dropout!r}")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.patch_size = _patch_tuple(patch_size, spatial_dims)
        self.head_kind = head
        self.downsampling = 2 ** len(channels)
        if head == "flatten" and any(p < self.downsampling for p in self.patch_size):
            raise ValueError(
                f"patch_size {self.patch_size} is smaller than the total stride "
                f"{self.downsampling}; use a patch of at least {self.downsampling} per axis"
            )
        widths = [max(1, round(int(c) * width_multiplier)) for c in channels]
        self.widths = tuple(widths)

        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            for stride in (1, 2):
                layers.append(factory.conv(spatial_dims, prev, width, 3, stride=stride))
                if not (i == 0 and stride == 1):
                    layers.append(factory.norm(norm, spatial_dims, width))
                layers.append(nn.LeakyReLU(negative_slope))
                prev = width
        if feature_dropout > 0:
            layers.append(nn.Dropout(feature_dropout))
        self.features = nn.Sequential(*layers)

        if head == "flatten":
            final = [math.ceil(p / self.downsampling) for p in self.patch_size]
            n_in = prev * math.prod(final)
            self.reduce: nn.Module = nn.Flatten(1)
        else:
            n_in = prev
            self.reduce = nn.Sequential(factory.adaptive_avg_pool(spatial_dims, 1), nn.Flatten(1))
        head_layers: list[nn.Module] = [
            nn.Linear(n_in, dense_features),
            nn.LeakyReLU(negative_slope),
        ]
        if dropout > 0:
            head_layers.append(nn.Dropout(dropout))
        head_layers.append(nn.Linear(dense_features, 1))
        self.head = nn.Sequential(*head_layers)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        check_input(
            x,
            model=name,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            min_size=self.downsampling,
        )
        if self.head_kind == "flatten" and tuple(x.shape[2:]) != self.patch_size:
            raise ValueError(
                f"{name} with head='flatten' was built for patch_size={self.patch_size} but got "
                f"spatial size {tuple(x.shape[2:])}; crop the input to the patch size, rebuild "
                "with the new patch_size, or use head='pool'"
            )
        out: Tensor = self.head(self.reduce(self.features(x)))
        return out
