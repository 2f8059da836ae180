"""Inference forms of networks: the model hook, and the generic function-preserving rewrites.

A network (or any block in it) may define its own **inference form**, the way timm's blocks
define ``reparameterize``:

.. code-block:: python

    def inference_form(self, **options: Any) -> nn.Module | None: ...

:func:`apply_inference_forms` walks a module tree top-down and calls the hook of every module
that has one (see :class:`HasInferenceForm` for the contract). The hook is where model-specific
inference code lives, next to the model: e.g. :class:`~medsr.models.generators.mdcsrn.MDCSRN`
returns its concatenation-free ``BufferedMDCSRN`` and SRResNet folds its output convolution onto
the coarse grid (:func:`medsr.nn.coarse_grid.fold_output_shuffle`).

The rewrites here know only layer kinds, never a model:

* :func:`fold_batchnorm`: ``conv -> batch norm`` pairs in eval mode become one convolution;
* :func:`inplace_activations`: activations that consume a fresh tensor work in place;
* channels-last parameters are :func:`medsr.nn.memory.channels_last_`.

:func:`medsr.infer.optimize.prepare_for_inference` composes them on a copy of a model.

A module whose forward runs the windows of a CPU batch in sub-batches of its own (so that a
caller should pass it whole batches) says so with a true class attribute named
:data:`SPLITS_CPU_BATCHES` (read with :func:`splits_cpu_batches`).
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = [
    "BN",
    "CONV",
    "SPLITS_CPU_BATCHES",
    "HasInferenceForm",
    "apply_inference_forms",
    "fold_batchnorm",
    "inplace_activations",
    "splits_cpu_batches",
]

#: Convolution kinds the rewrites recognise.
CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: Batch-norm kinds the rewrites recognise.
BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

#: Name of the class attribute by which a module says that on the CPU it runs the windows of a
#: batch in sub-batches of its own (one window at a time, say): a caller should not split them.
SPLITS_CPU_BATCHES = "splits_cpu_batches"


@runtime_checkable
class HasInferenceForm(Protocol):
    """A module that owns its inference form.

    ``inference_form(**options)`` is called by :func:`apply_inference_forms` on a module that
    the caller owns (:func:`~medsr.infer.optimize.prepare_for_inference` passes a deep copy in
    eval mode on the target device, after batch-norm folding), so it may rewrite ``self`` in
    place. It returns

    * ``None``: the module stays (possibly rewritten in place) and the walk goes on into its
      children;
    * a module (``self`` or a new one, which may share ``self``'s submodules and parameters):
      it replaces the module in its parent and the walk does not descend into it (the form is
      final for that subtree; a form that is its own inference form returns ``self``).

    The result must compute the same function up to float rounding. ``options`` are keyword
    flags shared by every hook (``prepare_for_inference`` passes ``device``, ``channels_last``,
    ``buffered``, ``fold_shuffle`` and its ``form_options``); a hook reads the ones it knows and
    ignores the rest, so it must accept ``**options``.
    """

    def inference_form(self, **options: Any) -> nn.Module | None: ...


def apply_inference_forms(module: nn.Module, **options: Any) -> nn.Module:
    """Replace every module that owns an inference form by it, top-down; returns the root's form.

    In place on ``module`` (work on a copy to keep the original); the result is ``module`` itself
    unless the root's own hook returned a replacement. See :class:`HasInferenceForm` for the
    hook's contract.

    Args:
        module: The network.
        **options: Passed to every hook.

    Returns:
        The network in its inference form.
    """
    hook = getattr(module, "inference_form", None)
    if callable(hook):
        form = hook(**options)
        if form is not None:
            if not isinstance(form, nn.Module):
                raise TypeError(
                    f"{type(module).__name__}.inference_form returned {type(form).__name__}, "
                    "not an nn.Module or None"
                )
            return form
    for name, child in list(module.named_children()):
        new = apply_inference_forms(child, **options)
        if new is not child:
            setattr(module, name, new)
    return module


def splits_cpu_batches(module: Any) -> bool:
    """Whether ``module`` runs the windows of a CPU batch in sub-batches of its own (see
    :data:`SPLITS_CPU_BATCHES`)."""
    return bool(getattr(module, SPLITS_CPU_BATCHES, False))


def _fold(conv: nn.Module, bn: nn.Module) -> None:
    """Fold ``bn`` (eval statistics) into ``conv`` in place."""
    assert isinstance(conv, CONV) and isinstance(bn, BN)
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
    nothing else (adjacent in an ``nn.Sequential``), are folded. The result equals the original
    up to float rounding (about 1e-7 relative). A batch norm that precedes its convolution
    (a pre-activation ``BN -> ELU -> conv``) cannot be folded and is left alone.
    """
    folded = 0
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        names = list(parent._modules)
        for a, b in itertools.pairwise(names):
            conv, bn = parent._modules[a], parent._modules[b]
            if (
                isinstance(conv, CONV)
                and isinstance(bn, BN)
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
            fresh = isinstance(producer, CONV + BN)
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
