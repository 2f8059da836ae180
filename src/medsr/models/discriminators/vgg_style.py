"""SRGAN / VGG-style discriminator (critic), 2D and 3D.

Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network", CVPR 2017 (the discriminator of Fig. 4). The 3D form with layer normalisation is the
WGAN-GP critic of Chen et al., "Efficient and Accurate MRI Super-Resolution using a Generative
Adversarial Network and 3D Multi-Level Densely Connected Network", MICCAI 2018, and its
"compressed" version from Chen et al., "MRI Super-Resolution with GAN and 3D Multi-Level
DenseNet: Smaller, Faster, and Better", Medical Image Analysis 2020 (arXiv:2003.01217).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from medsr.nn import factory
from medsr.nn.validation import check_input

Norm = Literal["batch", "layer", "instance", "none"]
Head = Literal["flatten", "pool"]


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
        dropout: Dropout probability after the hidden dense layer (0.5 in the x3 brain-MRI /
            chest X-ray SRGAN variant); 0 disables it.
        head: ``"flatten"`` or ``"pool"``.
        negative_slope: LeakyReLU slope.

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
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        if not channels or any(int(c) < 1 for c in channels):
            raise ValueError(
                f"channels must be a non-empty list of positive ints, got {channels!r}"
            )
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


def mdcsrn_critic(*, compressed: bool = False, patch_size: int = 64) -> VGGStyleDiscriminator:
    """The 3D WGAN-GP critic of the mDCSRN study (layer norm, flatten head).

    The papers give totals only (31.2M, and 17.6M for the "compressed" critic). With SRGAN's
    widths and a 512-unit dense layer at a 64^3 patch this layout has 30,830,785 parameters;
    ``compressed=True`` scales the widths by 43/64 (43-86-172-344), giving 17,618,383. See
    ``docs/models.md`` for the arithmetic and why the first count is 1.2% short.

    Args:
        compressed: Build the compressed critic.
        patch_size: Cubic training patch size.

    Returns:
        A :class:`VGGStyleDiscriminator`.
    """
    return VGGStyleDiscriminator(
        spatial_dims=3,
        in_channels=1,
        patch_size=patch_size,
        width_multiplier=43 / 64 if compressed else 1.0,
        norm="layer",
        dense_features=512,
        head="flatten",
    )
