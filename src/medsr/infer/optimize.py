"""Inference-only rewrites of a model that keep its function: batch-norm folding, buffers, layout.

:func:`prepare_for_inference` works on a copy (the caller's module is never modified):

* **batch-norm folding**: a convolution directly followed by a batch norm in eval mode (adjacent
  children of a container, e.g. SRResNet's ``conv -> BN``) becomes one convolution with scaled
  weights and a bias; the batch norm becomes an identity. The result equals the original up to
  float rounding (about 1e-7 relative) and saves one memory-bound pass per folded pair. A batch
  norm that precedes its convolution (mDCSRN's pre-activation ``BN -> ELU -> conv``) cannot be
  folded and is left alone.
* **concatenation-free mDCSRN**: mDCSRN concatenates its growing feature list at every dense
  unit and every compressor (a third of its CPU time). :class:`BufferedMDCSRN` runs the same
  modules writing every feature map once into one preallocated buffer laid out as the final
  concatenation ``[stem | h_1, u_11 .. u_1n | h_2, u_21 .. | ...]``; each unit and compressor
  reads a channel range of it. Same operations in the same order: bit-identical for one window
  per call, within float rounding (~1e-7) for batches (the strided reads change kernel paths).
* **channels-last** memory format (NHWC / NDHWC), which oneDNN convolutions prefer on CPUs for 2D.
* optionally :func:`torch.compile` (fuses element-wise chains and concatenations; compiling takes
  tens of seconds per window shape, so it pays off only on large volumes).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import torch
from torch import nn

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _fold(conv: nn.Module, bn: nn.Module) -> None:
    """Fold ``bn`` (eval statistics) into ``conv`` in place."""
    assert isinstance(conv, _CONV) and isinstance(bn, _BN)
    assert bn.running_mean is not None and bn.running_var is not None
    with torch.no_grad():
        inv = torch.rsqrt(bn.running_var.to(torch.float64) + bn.eps)
        gamma = bn.weight.to(torch.float64) if bn.weight is not None else torch.ones_like(inv)
        beta = bn.bias.to(torch.float64) if bn.bias is not None else torch.zeros_like(inv)
        factor = gamma * inv
        w = conv.weight.to(torch.float64) * factor.view(-1, *([1] * (conv.weight.ndim - 1)))
        b0 = conv.bias.to(torch.float64) if conv.bias is not None else torch.zeros_like(inv)
        bias = (b0 - bn.running_mean.to(torch.float64)) * factor + beta
        conv.weight.copy_(w.to(conv.weight.dtype))
        if conv.bias is None:
            conv.bias = nn.Parameter(bias.to(conv.weight.dtype))
        else:
            conv.bias.copy_(bias.to(conv.bias.dtype))


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every ``conv -> batch norm`` pair of adjacent children in place; returns the count.

    Only batch norms in eval mode with running statistics, following a convolution that feeds
    nothing else (adjacent in an ``nn.Sequential``), are folded.
    """
    folded = 0
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        names = list(parent._modules)
        for a, b in itertools.pairwise(names):
            conv, bn = parent._modules[a], parent._modules[b]
            if (
                isinstance(conv, _CONV)
                and isinstance(bn, _BN)
                and not bn.training
                and bn.track_running_stats
                and bn.running_var is not None
                and conv.out_channels == bn.num_features
            ):
                _fold(conv, bn)
                parent._modules[b] = nn.Identity()
                folded += 1
    return folded


class BufferedMDCSRN(nn.Module):
    """An :class:`~medsr.models.generators.mdcsrn.MDCSRN` evaluated without concatenations.

    Args:
        model: The mDCSRN whose modules are used (shared, not copied).

    Shape:
        Same as the wrapped model.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from medsr.nn.validation import check_input

        m: Any = self.model
        check_input(x, model="MDCSRN", spatial_dims=m.spatial_dims, in_channels=m.in_channels)
        width = m.stem.out_channels
        stem = m.stem(x)  # its dtype (bf16 under autocast) is the features' dtype
        buf = stem.new_empty((x.shape[0], m.reconstruction.in_channels, *x.shape[2:]))
        buf[:, :width] = stem
        start = width  # first channel of the current block: [h_i, u_i1, ...]
        buf[:, start : start + width] = buf[:, :width]  # block 1 input is the stem output
        for index, block in enumerate(m.blocks):
            end = start + width
            for unit in block.units:
                y = unit(buf[:, start:end])
                buf[:, end : end + y.shape[1]] = y
                end += y.shape[1]
            if index < len(m.compressors):
                buf[:, end : end + width] = m.compressors[index](buf[:, :end])
                start = end
        out = m.shuffle(m.reconstruction(buf))
        return out + x if getattr(m, "residual", False) else out


def buffer_concatenations(model: nn.Module) -> nn.Module:
    """``model`` wrapped in :class:`BufferedMDCSRN` when it is an mDCSRN, else unchanged."""
    from medsr.models.generators.mdcsrn import MDCSRN

    return BufferedMDCSRN(model) if type(model) is MDCSRN else model


def prepare_for_inference(
    model: nn.Module,
    *,
    device: torch.device | str = "cpu",
    fold_bn: bool = True,
    buffered: bool = True,
    channels_last: bool = False,
    compile: bool = False,
) -> nn.Module:
    """A copy of ``model`` in eval mode on ``device``, rewritten for fast inference.

    Args:
        model: The network (not modified).
        device: Where it will run.
        fold_bn: Fold ``conv -> BN`` pairs (see :func:`fold_batchnorm`).
        buffered: Evaluate an mDCSRN without concatenations (see :class:`BufferedMDCSRN`).
        channels_last: Convert parameters to the channels-last memory format.
        compile: Wrap the copy in :func:`torch.compile`.

    Returns:
        The prepared copy (an ``nn.Module``; compiled modules are ``OptimizedModule``).
    """
    net = copy.deepcopy(model).eval().to(device)
    if fold_bn:
        fold_batchnorm(net)
    if buffered:
        net = buffer_concatenations(net)
    if channels_last:
        dims = max((m.weight.ndim - 2 for m in net.modules() if isinstance(m, _CONV)), default=2)
        fmt = torch.channels_last_3d if dims == 3 else torch.channels_last
        net = net.to(memory_format=fmt)  # type: ignore[call-overload]
    if compile:
        compiled: Any = torch.compile(net, dynamic=False)
        return compiled  # type: ignore[no-any-return]
    return net
