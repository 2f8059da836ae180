"""Inference-only rewrites of a model that keep its function: batch-norm folding, buffers, layout.

:func:`prepare_for_inference` works on a copy (the caller's module is never modified):

* **batch-norm folding**: a convolution directly followed by a batch norm in eval mode (adjacent
  children of a container, e.g. SRResNet's ``conv -> BN``) becomes one convolution with scaled
  weights and a bias; the batch norm becomes an identity. The result equals the original up to
  float rounding (about 1e-7 relative) and saves one memory-bound pass per folded pair. A batch
  norm that precedes its convolution (mDCSRN's pre-activation ``BN -> ELU -> conv``) cannot be
  folded and is left alone.
* **concatenation-free mDCSRN**: mDCSRN concatenates its growing feature list at every dense
  unit and every compressor, and runs a batch norm and an ELU over it before every unit.
  :class:`BufferedMDCSRN` runs the same weights writing every feature map once into a workspace
  laid out as the final concatenation, each unit's batch norm as one multiply-add plus an
  in-place ELU, the 1x1 convolutions as matrix products, and (on the CPU) one window at a time
  so the working set stays in the cache: 2.5x the speed of the module through the same sliding
  window on 4 windows of 32^3 (``benchmarks/infer_speed.py``), equal to it within float
  rounding (~1e-6).
* **output convolution on the coarse grid** (SRResNet / SRGAN): ``conv(F -> 1)`` after the last
  pixel shuffle becomes an equivalent convolution before it, with ``prod(scale)`` outputs
  (:func:`fold_output_shuffle`); a one-channel convolution is slow in oneDNN and the shuffle of
  ``F`` fine-grid channels is saved.
* **in-place activations** after convolutions and batch norms (:func:`inplace_activations`).
* **channels-last** memory format (NHWC / NDHWC), which oneDNN convolutions prefer on CPUs.
* optionally :func:`torch.compile` (fuses element-wise chains and concatenations; compiling takes
  tens of seconds per window shape, so it pays off only on large volumes).
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from typing import Any

import torch
from torch import nn

from medsr.infer._layers import BN as _BN
from medsr.infer._layers import CONV as _CONV
from medsr.infer.coarse_grid import CoarseGridConv, fold_output_shuffle
from medsr.infer.mdcsrn_fast import BufferedMDCSRN, buffer_concatenations
from medsr.nn.memory import channels_last_

__all__ = [
    "BufferedMDCSRN",
    "CoarseGridConv",
    "buffer_concatenations",
    "cpu_cache_budget",
    "fold_batchnorm",
    "fold_output_shuffle",
    "inplace_activations",
    "prepare_for_inference",
    "run_measuring_activations",
]


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


_INPLACE_ABLE = (nn.ReLU, nn.LeakyReLU, nn.ELU)


def inplace_activations(model: nn.Module) -> int:
    """Make activations that consume a fresh tensor work in place; returns the count.

    In an ``nn.Sequential``, an activation whose previous sibling (identities skipped) is a
    convolution or a batch norm reads a tensor nothing else holds, so it may overwrite it; the
    fresh output it would allocate otherwise costs page faults on every window (a 3D SRResNet
    ran 18 % faster with its activations in place). ReLU, LeakyReLU and ELU get
    ``inplace=True``; a PReLU with one shared slope (SRGAN) becomes the equal in-place
    LeakyReLU (bit-identical). A per-channel PReLU, or an activation that could see the
    container's input, is left alone.
    """
    count = 0
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        producer: nn.Module | None = None
        for name, child in parent.named_children():
            fresh = isinstance(producer, _CONV + _BN)
            if fresh and isinstance(child, _INPLACE_ABLE) and not child.inplace:
                child.inplace = True
                count += 1
            elif fresh and isinstance(child, nn.PReLU) and child.num_parameters == 1:
                slope = float(child.weight.detach().reshape(()))
                setattr(parent, name, nn.LeakyReLU(slope, inplace=True))
                count += 1
            if not isinstance(child, nn.Identity):
                producer = child
    return count


def prepare_for_inference(
    model: nn.Module,
    *,
    device: torch.device | str = "cpu",
    fold_bn: bool = True,
    buffered: bool = True,
    fold_shuffle: bool = True,
    inplace: bool = True,
    channels_last: bool = False,
    compile: bool = False,
) -> nn.Module:
    """A copy of ``model`` in eval mode on ``device``, rewritten for fast inference.

    Args:
        model: The network (not modified).
        device: Where it will run.
        fold_bn: Fold ``conv -> BN`` pairs (see :func:`fold_batchnorm`).
        buffered: Evaluate an mDCSRN without concatenations (see :class:`BufferedMDCSRN`).
        fold_shuffle: Run an SRResNet-style output convolution on the coarse grid (see
            :func:`fold_output_shuffle`).
        inplace: Run activations that consume a fresh tensor in place (see
            :func:`inplace_activations`).
        channels_last: Convert parameters to the channels-last memory format.
        compile: Wrap the copy in :func:`torch.compile`.

    Returns:
        The prepared copy (an ``nn.Module``; compiled modules are ``OptimizedModule``).
    """
    net = copy.deepcopy(model).eval().to(device)
    if fold_bn:
        fold_batchnorm(net)
    if fold_shuffle:
        fold_output_shuffle(net)
    if inplace:
        inplace_activations(net)
    if buffered:
        net = buffer_concatenations(net)
    if channels_last:  # each convolution's weight by its own rank (a model may mix 2D and 3D)
        channels_last_(net)
    if compile:
        compiled: Any = torch.compile(net, dynamic=False)
        return compiled  # type: ignore[no-any-return]
    return net


@functools.cache
def cpu_cache_budget() -> int:
    """Bytes of activation per network call that stay cache-resident: half the L3 (Linux sysfs;
    16 MiB where it cannot be read)."""
    import glob

    for path in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(f"{path}/level", encoding="ascii") as f:
                if f.read().strip() != "3":
                    continue
            with open(f"{path}/size", encoding="ascii") as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        units = {"K": 1024, "M": 1024**2, "G": 1024**3}
        try:
            size = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
        except ValueError:
            continue
        return max(size // 2, 1 << 20)
    return 16 << 20


def run_measuring_activations(
    module: nn.Module, fn: Any, x: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """``fn(x)`` and the bytes of the largest output of ``module``'s leaves per voxel of ``x``.

    ``fn`` calls ``module`` (possibly through a wrapper). The ratio times a window's voxels is
    the largest activation that window produces, from which :class:`~medsr.infer.Predictor`
    sizes its CPU sub-batches.
    """
    widest = 0

    def hook(_module: nn.Module, _args: Any, out: Any) -> None:
        nonlocal widest
        if isinstance(out, torch.Tensor):
            widest = max(widest, out.numel() * out.element_size())

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        out = fn(x)
    finally:
        for h in handles:
            h.remove()
    widest = max(widest, out.numel() * out.element_size())
    return out, widest / max(math.prod(x.shape[2:]) * x.shape[0], 1)
