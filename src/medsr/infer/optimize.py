"""Inference-only rewrites of a model that keep its function: model forms, folding, layout.

:func:`prepare_for_inference` is the entry point. It works on a copy (the caller's module is
never modified) and composes the rewrites of :mod:`medsr.nn.inference`, which know layer kinds
and a hook, never a model:

* **batch-norm folding**: a convolution directly followed by a batch norm in eval mode (adjacent
  children of a container, e.g. SRResNet's ``conv -> BN``) becomes one convolution with scaled
  weights and a bias; the batch norm becomes an identity. The result equals the original up to
  float rounding (about 1e-7 relative) and saves one memory-bound pass per folded pair. A batch
  norm that precedes its convolution (mDCSRN's pre-activation ``BN -> ELU -> conv``) cannot be
  folded and is left alone (:func:`~medsr.nn.inference.fold_batchnorm`).
* **the models' own inference forms**: every module that defines
  ``inference_form(**options)`` is replaced by (or rewritten into) its form, top-down
  (:func:`~medsr.nn.inference.apply_inference_forms`). mDCSRN returns a concatenation-free
  ``BufferedMDCSRN`` (``medsr.models.generators.mdcsrn_buffered``; 2.5x the speed of the
  module through the same sliding window on 4 windows of 32^3, ``benchmarks/infer_speed.py``,
  equal to it within float rounding); SRResNet / SRGAN runs its output convolution
  ``conv(F -> 1)`` after the last pixel shuffle as an equivalent convolution before it, with
  ``prod(scale)`` outputs (:func:`~medsr.nn.coarse_grid.fold_output_shuffle`): a one-channel
  convolution is slow in oneDNN and the shuffle of ``F`` fine-grid channels is saved.
* **in-place activations** after convolutions and batch norms
  (:func:`~medsr.nn.inference.inplace_activations`).
* **channels-last** memory format (NHWC / NDHWC), which oneDNN convolutions prefer on CPUs.
* optionally :func:`torch.compile` (fuses element-wise chains and concatenations; compiling takes
  tens of seconds per window shape, so it pays off only on large volumes).

The rewrites are re-exported here for existing callers.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medsr.nn.coarse_grid import CoarseGridConv, fold_output_shuffle
from medsr.nn.inference import (
    apply_inference_forms,
    fold_batchnorm,
    inplace_activations,
    splits_cpu_batches,
)
from medsr.nn.memory import channels_last_

__all__ = [
    "CoarseGridConv",
    "apply_inference_forms",
    "cpu_cache_budget",
    "fold_batchnorm",
    "fold_output_shuffle",
    "inplace_activations",
    "prepare_for_inference",
    "run_measuring_activations",
    "splits_cpu_batches",
]


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
    form_options: Mapping[str, Any] | None = None,
) -> nn.Module:
    """A copy of ``model`` in eval mode on ``device``, rewritten for fast inference.

    The copy goes through, in this order: batch-norm folding; the models' own inference forms;
    in-place activations; channels-last; :func:`torch.compile`.

    **Inference forms.** A model (or any block in it) owns its inference-only code through a
    hook, as timm's blocks own ``reparameterize``::

        def inference_form(self, **options) -> nn.Module | None

    The module tree is walked top-down (:func:`~medsr.nn.inference.apply_inference_forms`) and
    each module's hook is called with the options below. It may rewrite the module in place (it
    is called on the copy) and return None, after which the walk goes on into the module's
    children; or return a module (itself or a new one, which may share its submodules), which
    replaces it in its parent and whose subtree the walk leaves alone. A hook reads the options
    it knows and ignores the others (it takes ``**options``). The mDCSRN generator returns its
    concatenation-free ``BufferedMDCSRN``; SRResNet (and RRDBNet with sub-pixel upsampling)
    moves its output convolution onto the coarse grid. A form that runs the windows of a CPU
    batch itself declares ``splits_cpu_batches = True``
    (:func:`~medsr.nn.inference.splits_cpu_batches`; the Predictor does not split its batches).

    Args:
        model: The network (not modified).
        device: Where it will run (also passed to the hooks as ``device``, a ``torch.device``).
        fold_bn: Fold ``conv -> BN`` pairs (see :func:`~medsr.nn.inference.fold_batchnorm`).
        buffered: Hook option: evaluate a network without its concatenations where its form
            can (mDCSRN).
        fold_shuffle: Hook option: run an output convolution after a pixel shuffle on the
            coarse grid where the form can (SRResNet-style, see
            :func:`~medsr.nn.coarse_grid.fold_output_shuffle`).
        inplace: Run activations that consume a fresh tensor in place (see
            :func:`~medsr.nn.inference.inplace_activations`).
        channels_last: Convert parameters to the channels-last memory format (also passed to
            the hooks).
        compile: Wrap the copy in :func:`torch.compile`.
        form_options: Further options passed to every hook (a hook ignores those it does not
            know).

    Returns:
        The prepared copy (an ``nn.Module``; compiled modules are ``OptimizedModule``).

    Raises:
        ValueError: When ``form_options`` repeats an option named above.
    """
    dev = torch.device(device)
    options: dict[str, Any] = {
        "device": dev,
        "channels_last": channels_last,
        "buffered": buffered,
        "fold_shuffle": fold_shuffle,
    }
    repeated = sorted(set(options) & set(form_options or {}))
    if repeated:
        raise ValueError(f"form_options repeats {repeated}: pass them as arguments")
    options.update(form_options or {})
    net = copy.deepcopy(model).eval().to(dev)
    if fold_bn:
        fold_batchnorm(net)
    net = apply_inference_forms(net, **options)
    if inplace:
        inplace_activations(net)
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
