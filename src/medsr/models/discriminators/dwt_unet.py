"""DISGAN's wavelet-informed U-Net discriminator (DWT U-Net), 3D (and 2D).

Wang, Mahler, Steiglechner, Birk, Scheffler, Lohmann, "DISGAN: Wavelet-Informed Discriminator
Guides GAN to MRI Super-Resolution with Noise Cleaning", ICCV Workshops 2023, pp. 2452-2461
(arXiv:2308.12084). The layout follows the authors' public code (``dwt_UNet``): every encoder
level is the concatenation of a strided-conv path and the 1x1-conv-projected Haar low band of the
previous level; the projected high bands join the decoder's skip concatenations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medsr.nn.haar import haar_dwt, split_bands
from medsr.nn.validation import check_input


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


def _conv(dims: int, cin: int, cout: int, k: int, s: int, p: int, bias: bool) -> nn.Module:
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    return cls(cin, cout, k, stride=s, padding=p, bias=bias)


def _bn(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)


class _DenseResidualBlock(nn.Module):
    """Five 3x3 convs, each seeing all previous outputs; output scaled by 0.2 plus the input."""

    def __init__(self, dims: int, filters: int, sn: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _sn(_conv(dims, filters * (i + 1), filters, 3, 1, 1, True), sn) for i in range(5)
        )
        self.act = nn.LeakyReLU(0.01)  # torch's default slope, as in the authors' code

    def forward(self, x: Tensor) -> Tensor:
        feats = x
        out = x
        for i, conv in enumerate(self.convs):
            out = conv(feats)
            if i < 4:
                out = self.act(out)
                feats = _cat(feats, out)
        return out * 0.2 + x


def _cat(*xs: Tensor) -> Tensor:
    return torch.cat(xs, dim=1)


class _DWTUnit(nn.Module):
    """Haar DWT, then 1x1 convs projecting the low band and the stacked high bands."""

    def __init__(self, dims: int, cin: int, cout: int, sn: bool) -> None:
        super().__init__()
        self.dims = dims
        self.low = _sn(_conv(dims, cin, cout, 1, 1, 0, True), sn)
        self.high = _sn(_conv(dims, cin * (2**dims - 1), cout, 1, 1, 0, True), sn)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        low, high = split_bands(haar_dwt(x, self.dims), self.dims)
        return self.low(low), self.high(high)


def _down(dims: int, cin: int, cout: int, bn: bool, sn: bool) -> nn.Sequential:
    layers = [
        nn.LeakyReLU(0.2),
        _sn(_conv(dims, cin, cout, 4, 2, 1, False), sn),
        _DenseResidualBlock(dims, cout, sn),
    ]
    if bn:
        layers.append(_bn(dims, cout))
    return nn.Sequential(*layers)


def _up(dims: int, cin: int, cout: int, sn: bool) -> nn.Sequential:
    tconv = (nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d)(
        cin, cout, 4, 2, 1, bias=False
    )
    return nn.Sequential(
        nn.ReLU(), _sn(tconv, sn), _DenseResidualBlock(dims, cout, sn), _bn(dims, cout)
    )


class DWTUNetDiscriminator(nn.Module):
    """U-Net discriminator whose levels are informed by a Haar DWT; per-voxel raw logits.

    Encoder: a 3x3 stem conv + BN at full size; level 1 = [4x4 stride-2 conv of the stem,
    1x1-projected Haar low band of the input]; level k = [pre-activated (LeakyReLU 0.2) stride-2
    conv + dense residual block + BN of level k-1, projected low band of level k-1's DWT]; the
    bottom level has no DWT and no BN. Decoder: pre-activated (ReLU) transposed convs + dense
    residual block + BN; every skip concatenates [decoder, encoder, projected high bands]; the
    last up-step is a (bi/tri)linear upsampling + dense residual block + 1x1 conv + BN; the tail
    concatenates the stem features and applies conv3 + BN + conv3 to one channel.

    Widths for ``features=f`` (the published model has ``f=16`` and ``depth=6``): encoder
    levels ``f * min(2**k, 8)``, of which ``max(1, f * 2**k // 16)`` channels come from the DWT
    unit.

    Args:
        spatial_dims: 3 (as published) or 2.
        in_channels: Image channels.
        features: Base width ``f``.
        depth: Number of stride-2 levels; the input must be divisible by ``2**depth``.
        spectral_norm: Wrap every conv in spectral normalisation (off in the published code,
            which uses batch norm).

    Raises:
        ValueError: On an invalid argument; the message says which value to use.

    Shape:
        Input ``(B, C, *S)`` with every ``S`` divisible by ``2**depth``; output ``(B, 1, *S)``.
    """

    def __init__(
        self,
        *,
        spatial_dims: int = 3,
        in_channels: int = 1,
        features: int = 16,
        depth: int = 6,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        if features < 2:
            raise ValueError(f"features must be >= 2, got {features!r}")
        if not 2 <= depth <= 7:
            raise ValueError(f"depth must be between 2 and 7, got {depth!r}")
        dims, f, sn = spatial_dims, features, spectral_norm
        self.spatial_dims = dims
        self.in_channels = in_channels
        self.multiple = 2**depth
        widths = [f * min(2**k, 8) for k in range(depth - 1)]
        dwt_ch = [max(1, f * 2**k // 16) for k in range(depth - 1)]
        bottom = f * min(2 ** (depth - 1), 8)

        self.stem = nn.Sequential(_sn(_conv(dims, in_channels, f, 3, 1, 1, True), sn), _bn(dims, f))
        self.enc = nn.ModuleList()
        self.dwt = nn.ModuleList()
        for k in range(depth - 1):
            conv_out = widths[k] - dwt_ch[k]
            if k == 0:
                self.enc.append(_sn(_conv(dims, f, conv_out, 4, 2, 1, False), sn))
                self.dwt.append(_DWTUnit(dims, in_channels, dwt_ch[k], sn))
            else:
                self.enc.append(_down(dims, widths[k - 1], conv_out, True, sn))
                self.dwt.append(_DWTUnit(dims, widths[k - 1], dwt_ch[k], sn))
        self.bottom = _down(dims, widths[-1], bottom, False, sn)

        self.dec = nn.ModuleList([_up(dims, bottom, widths[-1], sn)])
        for k in range(depth - 2, 0, -1):
            self.dec.append(_up(dims, 2 * widths[k] + dwt_ch[k], widths[k - 1], sn))
        last_in = 2 * widths[0] + dwt_ch[0]
        self.last_up = nn.Sequential(
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="bilinear" if dims == 2 else "trilinear"),
            _DenseResidualBlock(dims, last_in, sn),
            _sn(_conv(dims, last_in, 2 * f, 1, 1, 0, False), sn),
            _bn(dims, 2 * f),
        )
        self.tail = nn.Sequential(
            _sn(_conv(dims, 3 * f, 2 * f, 3, 1, 1, True), sn),
            _bn(dims, 2 * f),
            _sn(_conv(dims, 2 * f, 1, 3, 1, 1, True), sn),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x,
            model=type(self).__name__,
            spatial_dims=self.spatial_dims,
            in_channels=self.in_channels,
            multiple_of=self.multiple,
            min_size=self.multiple,
        )
        stem = self.stem(x)
        skips: list[Tensor] = []
        highs: list[Tensor] = []
        prev_conv, prev_dwt_in = stem, x
        for enc, dwt in zip(self.enc, self.dwt):
            low, high = dwt(prev_dwt_in)
            level = _cat(enc(prev_conv), low)
            skips.append(level)
            highs.append(high)
            prev_conv, prev_dwt_in = level, level
        out = self.bottom(prev_conv)
        for i, up in enumerate(self.dec):
            out = up(out if i == 0 else _cat(out, skips[-i], highs[-i]))
        out = self.last_up(_cat(out, skips[0], highs[0]))
        result: Tensor = self.tail(_cat(out, stem))
        return result
