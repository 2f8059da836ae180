"""Measurements of a model: parameter count, FLOPs per output voxel, receptive field.

All three take the model as it is (no architecture-specific formulas), so they stay right when a
model changes. They never touch the global RNG: random probes come from a local generator.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter values (shared parameters counted once).

    Args:
        model: Any module.
        trainable_only: Count only parameters with ``requires_grad``.

    Returns:
        The count.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def flops_per_output_voxel(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Floating-point operations of one forward pass per output voxel.

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions, transposed
    convolutions and matrix products, 2 FLOPs per multiply-add; element-wise ops, norms, pooling
    and interpolation are not counted), in eval mode and without gradients, on a seeded random
    input. The total is divided by ``batch * prod(output spatial size)``; channels are not
    divided out.

    Args:
        model: The model; its train/eval mode is restored afterwards.
        input_shape: ``(B, C, *spatial)`` of the probe input.

    Returns:
        FLOPs per output voxel.

    Shape:
        - input_shape: ``(B, C, *spatial)``
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(tuple(input_shape), generator=gen).to(device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = model(x)
    finally:
        model.train(was_training)
    voxels = out.shape[0] * math.prod(out.shape[2:])
    return counter.get_total_flops() / voxels


@dataclass(frozen=True)
class ReceptiveField:
    """Per-axis receptive field of the centre output voxel, in input voxels.

    Attributes:
        size: Extent of the input region that influences the probed output voxel.
        before: Input voxels before the anchor (see ``anchor``) that influence it.
        after: Input voxels after the anchor that influence it.
            With ``phases > 1`` the three values above are maxima over the probed phases, each
            measured from its own output voxel's anchor.
        anchor: The input voxel under the probed output voxel, ``floor(o * n_in / n_out)``.
        truncated: True on an axis whose influence reached the probe border: the true field is
            at least ``size`` there (global operations such as attention pooling or an L2
            projection make it the whole input); rerun with a larger probe to tell.
    """

    size: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]
    anchor: tuple[int, ...]
    truncated: tuple[bool, ...]

    @property
    def margin(self) -> tuple[int, ...]:
        """``max(before, after)`` per axis: the halo a sliding window needs around a tile."""
        return tuple(max(b, a) for b, a in zip(self.before, self.after))


class _OpenGate(nn.Module):
    """Same forward value as the wrapped ReLU-type gate; gradient 1 everywhere."""

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        return x + (self.gate(x) - x).detach()


class _SpreadMaxPool(nn.Module):
    """Same forward value as the max pool; gradient spread over the window like an average pool."""

    def __init__(self, pool: nn.MaxPool2d | nn.MaxPool3d) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        p = self.pool
        avg = F.avg_pool2d if isinstance(p, nn.MaxPool2d) else F.avg_pool3d
        spread = avg(x, p.kernel_size, p.stride, p.padding, p.ceil_mode)  # type: ignore[arg-type]
        return spread + (p(x) - spread).detach()


def _open_gates(model: nn.Module) -> None:
    """Replace gating modules in place so that their gradient no longer depends on the data."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU | nn.Hardtanh):  # Hardtanh covers ReLU6
                setattr(parent, name, _OpenGate(child))
            elif (
                isinstance(child, nn.MaxPool2d | nn.MaxPool3d)
                and child.dilation in (1, (1, 1), (1, 1, 1))
                and not child.return_indices
            ):
                setattr(parent, name, _SpreadMaxPool(child))


def _binarise_gradient(
    module: nn.Module, grad_input: tuple[Tensor | None, ...], grad_output: tuple[Tensor | None, ...]
) -> tuple[Tensor | None, ...]:
    """Backward hook: keep only where the gradient is non-zero (1.0), not its size."""
    return tuple(None if g is None else (g != 0).to(g.dtype) for g in grad_input)


def _probe_copy(model: nn.Module) -> nn.Module:
    """Float64 eval-mode copy with opened gates and binarised gradients, parameters frozen."""
    probe_model = copy.deepcopy(model).to(dtype=torch.float64).eval()
    _open_gates(probe_model)
    for module in probe_model.modules():
        if next(module.children(), None) is None:
            module.register_full_backward_hook(_binarise_gradient)
    for p in probe_model.parameters():
        p.requires_grad_(False)
    return probe_model


def receptive_field(
    model: nn.Module,
    *,
    spatial_dims: int,
    in_channels: int,
    probe_size: int | Sequence[int],
    num_probes: int = 4,
    phases: int | Sequence[int] = 1,
    seed: int = 0,
) -> ReceptiveField:
    """Measure the receptive field of the centre output voxel by back-propagation.

    Method: a float64 copy of the model in eval mode (batch norm uses its running statistics, so
    samples do not mix; dropout is off) maps a random probe input of ``probe_size`` to its output.
    The sum over output channels at the centre output voxel is back-propagated to the input; the
    input voxels with a non-zero gradient (any channel) are the ones that influence it. The
    reported extent is the bounding box of that support, per axis.

    Data-dependent gradient routing would hide part of the field (a closed ReLU passes no
    gradient, a max pool passes it to one voxel of its window), so in the copy every ``nn.ReLU``
    / ``nn.Hardtanh`` module passes its gradient unchanged and every ``nn.MaxPool2d/3d`` spreads
    it over its window like an average pool; forward values are untouched. The result is the
    structural field: every input voxel that can influence the output for some input. Every
    leaf module's input gradient is also reset to 1 where it is non-zero, so that products of
    many small factors (hundreds of layers, residual scaling) cannot underflow to zero and cut the
    field short; only the support of the gradient matters here, never its size. Gates
    written as functions inside ``forward`` (``F.relu``, ``clamp``) are not opened; the supports
    of ``num_probes`` random inputs (alternately uniform on [0, 1) and standard normal) are united
    to reduce their effect.

    Networks that are not translation-equivariant voxel by voxel (pooling U-Nets, strided
    convolutions, sub-pixel upsampling) have fields that depend on the output voxel's phase. With
    ``phases=P`` the output voxels ``centre + k * e_axis`` for ``k < P_axis`` are probed along
    every axis and ``size``, ``before`` and ``after`` are the maxima over them (``anchor`` stays
    the centre's); pass the network's total stride or scale to cover every phase.

    A module that declares ``has_global_context = True`` (e.g. the data-dependent L2 projection of
    SRResCGAN, whose noise estimate carries no gradient) makes every axis ``truncated``: the
    output depends on whole-input statistics even where no gradient shows it.

    Args:
        model: The model (not modified; a copy is measured).
        spatial_dims: Number of spatial axes of the input.
        in_channels: Input channels.
        probe_size: Spatial size of the probe input (int or per axis); must satisfy the model's
            size constraints and should exceed the expected field.
        num_probes: Random inputs to unite.
        phases: Output voxels probed per axis (int or per axis), starting at the centre.
        seed: Seed of the local generator for the probe inputs.

    Returns:
        The per-axis :class:`ReceptiveField`.

    Raises:
        ValueError: If ``probe_size`` or ``phases`` has the wrong length or a non-positive entry,
            or ``num_probes < 1``.
        RuntimeError: If a probed output voxel does not depend on the input at all.
    """
    size = (probe_size,) * spatial_dims if isinstance(probe_size, int) else tuple(probe_size)
    if len(size) != spatial_dims or any(s < 1 for s in size):
        raise ValueError(
            f"probe_size must be a positive int or {spatial_dims} of them, got {probe_size!r}"
        )
    steps = (phases,) * spatial_dims if isinstance(phases, int) else tuple(phases)
    if len(steps) != spatial_dims or any(k < 1 for k in steps):
        raise ValueError(f"phases must be a positive int or {spatial_dims} of them, got {phases!r}")
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}")
    probe_model = _probe_copy(model)
    device = next((p.device for p in probe_model.parameters()), torch.device("cpu"))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    supports: dict[tuple[int, ...], Tensor] = {}
    out_size: tuple[int, ...] = ()
    for index in range(num_probes):
        draw = torch.rand if index % 2 == 0 else torch.randn
        x = draw((1, in_channels, *size), generator=gen, dtype=torch.float64)
        x = x.to(device).requires_grad_(True)
        y = probe_model(x)
        out_size = tuple(int(s) for s in y.shape[2:])
        centre = tuple(s // 2 for s in out_size)
        voxels = {centre} | {
            tuple(c + (k if a == axis else 0) for a, c in enumerate(centre))
            for axis in range(spatial_dims)
            for k in range(1, min(steps[axis], out_size[axis] - centre[axis]))
        }
        for voxel in sorted(voxels):
            (grad,) = torch.autograd.grad(y[(0, slice(None), *voxel)].sum(), x, retain_graph=True)
            hit = (grad[0] != 0).any(dim=0).cpu()
            supports[voxel] = supports[voxel] | hit if voxel in supports else hit
    global_context = any(getattr(m, "has_global_context", False) for m in model.modules())
    centre = tuple(s // 2 for s in out_size)
    anchor = tuple(c * n // o for c, n, o in zip(centre, size, out_size))
    extent, before, after, truncated = [], [], [], []
    for axis in range(spatial_dims):
        others = tuple(a for a in range(spatial_dims) if a != axis)
        best = (0, 0, 0)
        touches = global_context
        for voxel, support in supports.items():
            if any(voxel[a] != centre[a] for a in others):
                continue
            idx = torch.nonzero(support.any(dim=others) if others else support).flatten()
            if idx.numel() == 0:
                raise RuntimeError(f"output voxel {voxel} does not depend on the input")
            lo, hi = int(idx.min()), int(idx.max())
            here = voxel[axis] * size[axis] // out_size[axis]
            best = (max(best[0], hi - lo + 1), max(best[1], here - lo), max(best[2], hi - here))
            touches = touches or lo == 0 or hi == size[axis] - 1
        extent.append(best[0])
        before.append(best[1])
        after.append(best[2])
        truncated.append(touches)
    return ReceptiveField(
        size=tuple(extent),
        before=tuple(before),
        after=tuple(after),
        anchor=anchor,
        truncated=tuple(truncated),
    )
