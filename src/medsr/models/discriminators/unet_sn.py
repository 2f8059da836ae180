"""Real-ESRGAN's U-Net discriminator with spectral normalisation, 2D and 3D.

Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data", ICCV Workshops 2021 (the ``UNetDiscriminatorSN`` of the authors' BasicSR code);
spectral normalisation from Miyato et al., "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from medsr.nn.validation import check_input


def _conv(dims: int, cin: int, cout: int, k: int, s: int, p: int, *, bias: bool) -> nn.Module:
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    return cls(cin, cout, k, stride=s, padding=p, bias=bias)


class UNetDiscriminatorSN(nn.Module):
    """U-Net discriminator: three 4x4 stride-2 downs, three (bi/tri)linear x2 ups, per-pixel logits.

    Layout (``f = features``): conv3 ``C -> f`` (plain); spectrally normalised, bias-free convs
    ``f -> 2f -> 4f -> 8f`` (4x4, stride 2); up path: x2 interpolation then conv3 ``8f -> 4f``,
    ``4f -> 2f``, ``2f -> f``, each added to the encoder features of the same size when
    ``skip_connection``; two more SN conv3 ``f -> f``; a plain conv3 ``f -> 1``. LeakyReLU 0.2
    after every conv but the last.

    Args:
        spatial_dims: 2 or 3.
        in_channels: Image channels.
        features: Base width ``f`` (64 in Real-ESRGAN).
        skip_connection: Add encoder features in the up path (Real-ESRGAN default).

    Raises:
        ValueError: On an invalid argument; the message says which value to use.

    Shape:
        Input ``(B, C, *S)`` with every ``S`` divisible by 8; output ``(B, 1, *S)`` raw logits.
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 2,
        in_channels: int = 1,
        features: int = 64,
        skip_connection: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        if features < 1:
            raise ValueError(f"features must be >= 1, got {features!r}")
        d, f = spatial_dims, features
        sn = nn.utils.parametrizations.spectral_norm
        self.spatial_dims = d
        self.in_channels = in_channels
        self.skip_connection = skip_connection
        self.mode = "bilinear" if d == 2 else "trilinear"
        self.conv0 = _conv(d, in_channels, f, 3, 1, 1, bias=True)
        self.conv1 = sn(_conv(d, f, 2 * f, 4, 2, 1, bias=False))
        self.conv2 = sn(_conv(d, 2 * f, 4 * f, 4, 2, 1, bias=False))
        self.conv3 = sn(_conv(d, 4 * f, 8 * f, 4, 2, 1, bias=False))
        self.conv4 = sn(_conv(d, 8 * f, 4 * f, 3, 1, 1, bias=False))
        self.conv5 = sn(_conv(d, 4 * f, 2 * f, 3, 1, 1, bias=False))
        self.conv6 = sn(_conv(d, 2 * f, f, 3, 1, 1, bias=False))
        self.conv7 = sn(_conv(d, f, f, 3, 1, 1, bias=False))
        self.conv8 = sn(_conv(d, f, f, 3, 1, 1, bias=False))
        self.conv9 = _conv(d, f, 1, 3, 1, 1, bias=True)

    def _up(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode=self.mode, align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x,
            model=type(self).__name__,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            multiple_of=8,
            min_size=8,
        )
        act = F.leaky_relu
        x0 = act(self.conv0(x), 0.2)
        x1 = act(self.conv1(x0), 0.2)
        x2 = act(self.conv2(x1), 0.2)
        x3 = act(self.conv3(x2), 0.2)
        x4 = act(self.conv4(self._up(x3)), 0.2)
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(self._up(x4)), 0.2)
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(self._up(x5)), 0.2)
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6), 0.2)
        out = act(self.conv8(out), 0.2)
        result: Tensor = self.conv9(out)
        return result
