"""Channels-last memory format for convolution networks and their batches.

oneDNN runs 2D and 3D convolutions (forward and backward) markedly faster on channels-last data on
the CPU: on the 2-core development machine an mDCSRN training step on 2 x 32^3 patches went from 0.64
to 1.0-1.1 steps/s in float32 (see docs/BENCHMARKS.md, "Training throughput").
"""

from __future__ import annotations

import torch
from torch import nn

_FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}
_CONV = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def channels_last_(module: nn.Module) -> nn.Module:
    """Convert every convolution weight to the channels-last format of its own rank, in place.

    Each weight gets its format by its own rank, so a model that mixes 2D and 3D convolutions is
    handled; the parameter objects are kept (optimisers built before or after stay valid).

    Args:
        module: The network.

    Returns:
        The same module.
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, _CONV) and m.weight.ndim in _FORMATS:
                m.weight.data = m.weight.data.to(memory_format=_FORMATS[m.weight.ndim])
    return module


def channels_last_tensor(x: torch.Tensor) -> torch.Tensor:
    """A 4D or 5D batch in channels-last format (other ranks unchanged)."""
    fmt = _FORMATS.get(x.ndim)
    return x if fmt is None else x.to(memory_format=fmt)


def native_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX512-BF16 / AMX), where they are faster."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch: no probe, no bf16 by default
        return False
