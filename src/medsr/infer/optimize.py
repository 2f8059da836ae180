"""Inference-only rewrites of a model that keep its function: batch-norm folding, memory layout.

:func:`prepare_for_inference` works on a copy (the caller's module is never modified):

* **batch-norm folding**: a convolution directly followed by a batch norm in eval mode (adjacent
  children of a container, e.g. SRResNet's ``conv -> BN``) becomes one convolution with scaled
  weights and a bias; the batch norm becomes an identity. The result equals the original up to
  float rounding (about 1e-7 relative) and saves one memory-bound pass per folded pair. A batch
  norm that precedes its convolution (mDCSRN's pre-activation ``BN -> ELU -> conv``) cannot be
  folded and is left alone.
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


def prepare_for_inference(
    model: nn.Module,
    *,
    device: torch.device | str = "cpu",
    fold_bn: bool = True,
    channels_last: bool = False,
    compile: bool = False,
) -> nn.Module:
    """A copy of ``model`` in eval mode on ``device``, rewritten for fast inference.

    Args:
        model: The network (not modified).
        device: Where it will run.
        fold_bn: Fold ``conv -> BN`` pairs (see :func:`fold_batchnorm`).
        channels_last: Convert parameters to the channels-last memory format.
        compile: Wrap the copy in :func:`torch.compile`.

    Returns:
        The prepared copy (an ``nn.Module``; compiled modules are ``OptimizedModule``).
    """
    net = copy.deepcopy(model).eval().to(device)
    if fold_bn:
        fold_batchnorm(net)
    if channels_last:
        dims = max((m.weight.ndim - 2 for m in net.modules() if isinstance(m, _CONV)), default=2)
        fmt = torch.channels_last_3d if dims == 3 else torch.channels_last
        net = net.to(memory_format=fmt)  # type: ignore[call-overload]
    if compile:
        compiled: Any = torch.compile(net, dynamic=False)
        return compiled  # type: ignore[no-any-return]
    return net
