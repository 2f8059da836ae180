"""DFGAN / AttnDFGAN U-Net generator for low-dose CT denoising.

The difference-map GAN for low-dose CT (DFGAN) and its attention variant (AttnDFGAN), as in the
authors' public code (github.com/SkiddieAhn/Study-Denoising-Image). The attention blocks are
CBAM: Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018. The
U-Net itself follows Ronneberger, Fischer and Brox, MICCAI 2015.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from medsr.models.generators._checks import check_positive, check_spatial_dims
from medsr.nn.cbam import CBAM
from medsr.nn.factory import conv, conv_transpose, max_pool, norm
from medsr.nn.low_band import LowBandConsistency
from medsr.nn.validation import check_input


class _DoubleConv(nn.Sequential):
    """(conv3 without bias - BN - ReLU) x 2, optionally followed by CBAM."""

    def __init__(self, spatial_dims: int, cin: int, cout: int, attention: bool) -> None:
        layers: list[nn.Module] = []
        for a, b in ((cin, cout), (cout, cout)):
            layers += [
                conv(spatial_dims, a, b, 3, bias=False),
                norm("batch", spatial_dims, b),
                nn.ReLU(),
            ]
        if attention:
            layers.append(CBAM(spatial_dims, cout))
        super().__init__(*layers)


class DFGANUNet(nn.Module):
    """U-Net with strided input copies at the decoder levels (DFGAN); CBAM variant (AttnDFGAN).

    Encoder: a double conv to ``features[0]``, then per level max-pool and a double conv
    (``conv3 - BN - ReLU`` twice, no conv bias). Decoder: per level a 2x2 stride-2 transposed
    convolution to the skip's width, concatenation with the skip, a double conv; at every decoder
    level of stride ``2**l > 1`` a learnable ``2**l``-kernel, stride-``2**l`` convolution of the
    input (one channel, with bias) is added (broadcast over the channels), and at full resolution
    the input itself is added before the last ``conv3`` (with bias). With ``attention=True`` a
    CBAM follows every encoder double conv after a max-pool and every decoder double conv.

    Defaults give exactly 7,762,808 parameters (DFGAN) and 7,819,538 with ``attention=True``
    (AttnDFGAN), the published counts.

    Args:
        in_channels: Must be 1: the input is broadcast-added to the feature maps.
        out_channels: Output channels.
        spatial_dims: 2 (paper) or 3.
        features: Channels per level, coarsest last.
        attention: Add CBAM blocks (AttnDFGAN).
        keep_low_band: Gaussian sigma in voxels of the low-band consistency step (the output
            keeps the input's local mean, :mod:`medsr.nn.low_band`; not part of DFGAN); 0 (the
            default) leaves the output as the U-Net gives it. No parameters: it can be turned
            on for a trained model.

    Raises:
        ValueError: On ``in_channels != 1``, fewer than two levels, or a bad size.

    Shape:
        - Input: ``(B, 1, *n)`` with every ``n_i`` divisible by ``2**(len(features) - 1)``
        - Output: ``(B, out_channels, *n)``
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        features: Sequence[int] = (32, 64, 128, 256, 512),
        attention: bool = False,
        keep_low_band: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(out_channels=out_channels)
        check_spatial_dims(spatial_dims)
        if in_channels != 1:
            raise ValueError(
                f"DFGANUNet adds the one-channel input to its feature maps, so in_channels must "
                f"be 1 (got {in_channels}); feed one CT channel"
            )
        widths = tuple(int(f) for f in features)
        if len(widths) < 2:
            raise ValueError(f"features needs at least two levels, got {features!r}")
        check_positive(**{f"features[{i}]": w for i, w in enumerate(widths)})
        self.spatial_dims = spatial_dims
        self.features = widths
        self.out_channels = out_channels
        self.depth = len(widths) - 1
        self.inc = _DoubleConv(spatial_dims, in_channels, widths[0], attention=False)
        self.pool = max_pool(spatial_dims, 2)
        self.down = nn.ModuleList(
            _DoubleConv(spatial_dims, widths[i - 1], widths[i], attention)
            for i in range(1, len(widths))
        )
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        self.input_copies = nn.ModuleList()
        for level in range(self.depth - 1, -1, -1):  # decoder output level, coarse to fine
            self.up.append(conv_transpose(spatial_dims, widths[level + 1], widths[level]))
            self.merge.append(
                _DoubleConv(spatial_dims, 2 * widths[level], widths[level], attention)
            )
            if level > 0:
                k = 2**level
                self.input_copies.append(conv(spatial_dims, 1, 1, k, stride=k, padding=0))
        self.outc = conv(spatial_dims, widths[0], out_channels, 3)
        if keep_low_band < 0:
            raise ValueError(f"keep_low_band must be >= 0, got {keep_low_band}")
        if keep_low_band > 0 and out_channels != 1:
            raise ValueError("keep_low_band needs out_channels == 1 (it keeps the input's band)")
        self.low_band = (
            LowBandConsistency(keep_low_band, spatial_dims) if keep_low_band > 0 else None
        )

    def forward(self, x: Tensor) -> Tensor:
        check_input(
            x,
            model="DFGANUNet",
            spatial_dims=self.spatial_dims,
            in_channels=1,
            multiple_of=2**self.depth,
        )
        skips = [self.inc(x)]
        for block in self.down:
            skips.append(block(self.pool(skips[-1])))
        h = skips.pop()
        for index, (up, merge) in enumerate(zip(self.up, self.merge)):
            h = merge(torch.cat([skips.pop(), up(h)], dim=1))
            copy = self.input_copies[index](x) if index < len(self.input_copies) else x
            h = h + copy
        out = self.outc(h)
        return out if self.low_band is None else self.low_band(out, x)

    @torch.no_grad()
    def load_narrower(self, state: dict[str, Tensor], features: Sequence[int]) -> None:
        """Load the weights of the same U-Net with fewer channels per level, keeping its function.

        Function-preserving widening (Net2WiderNet's idea, Chen, Goodfellow and Shlens, ICLR
        2016, with zero outgoing weights instead of split copies): each layer's old channels
        take the narrow weights; the new channels keep this module's fresh initialisation, and
        every weight from a new channel into an old one is zero, so the widened network computes
        exactly what the narrow one did (BN statistics included) and training can then use the
        extra width. ``features`` are the narrow network's widths, level for level no wider
        than this one's.

        Raises:
            ValueError: On CBAM blocks (AttnDFGAN), a different depth, a wider narrow level,
                or a state that does not fit ``features``.
        """

        narrow = tuple(int(f) for f in features)
        wide = self.features
        if any(isinstance(m, CBAM) for m in self.modules()):
            raise ValueError("load_narrower does not widen CBAM blocks (AttnDFGAN)")
        if len(narrow) != len(wide) or any(not 0 < n <= w for n, w in zip(narrow, wide)):
            raise ValueError(
                f"load_narrower needs as many levels as {list(wide)}, none of them wider; "
                f"got {list(narrow)}"
            )
        maps = self._channel_maps(narrow, wide)
        own = self.state_dict()
        if set(own) != set(state):
            raise ValueError("load_narrower: the narrow state has other parameter names")
        for key, target in own.items():
            source = state[key].to(target.dtype)
            module, _, leaf = key.rpartition(".")
            if module not in maps or leaf == "num_batches_tracked":
                if source.shape != target.shape:
                    raise ValueError(f"load_narrower: {key} has shape {tuple(source.shape)}")
                target.copy_(source)
                continue
            cin, cout = maps[module]
            if target.dim() == 1:  # bias, BN affine and running statistics
                target[cout] = source
                continue
            transposed = isinstance(
                self.get_submodule(module), nn.ConvTranspose2d | nn.ConvTranspose3d
            )
            w = target.transpose(0, 1) if transposed else target  # views: (out, in, ...)
            src = source.transpose(0, 1) if transposed else source
            if src.shape[:2] != (len(cout), len(cin)):
                raise ValueError(f"load_narrower: {key} does not fit features {list(narrow)}")
            w[cout] = 0.0  # old outputs: nothing from the new input channels
            w[cout.unsqueeze(1), cin.unsqueeze(0)] = src

    def _channel_maps(
        self, narrow: tuple[int, ...], wide: tuple[int, ...]
    ) -> dict[str, tuple[Tensor, Tensor]]:
        """Per layer name: (old input channel indices, old output channel indices) in the wide net."""

        def prefix(level: int) -> Tensor:
            return torch.arange(narrow[level])

        one = torch.arange(1)
        maps: dict[str, tuple[Tensor, Tensor]] = {}

        def double(name: str, cin: Tensor, level: int) -> None:
            out = prefix(level)
            maps[f"{name}.0"], maps[f"{name}.1"] = (cin, out), (out, out)
            maps[f"{name}.3"], maps[f"{name}.4"] = (out, out), (out, out)

        double("inc", one, 0)
        for i in range(1, len(wide)):
            double(f"down.{i - 1}", prefix(i - 1), i)
        for j, level in enumerate(range(self.depth - 1, -1, -1)):
            maps[f"up.{j}"] = (prefix(level + 1), prefix(level))
            concat = torch.cat([prefix(level), wide[level] + prefix(level)])
            double(f"merge.{j}", concat, level)
        maps["outc"] = (prefix(0), torch.arange(self.out_channels))
        return maps
