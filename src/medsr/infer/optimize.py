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
  so the working set stays in the cache: 2x faster than the module on 4 windows of 32^3, equal
  to it within float rounding (~1e-7).
* **channels-last** memory format (NHWC / NDHWC), which oneDNN convolutions prefer on CPUs for 2D.
* optionally :func:`torch.compile` (fuses element-wise chains and concatenations; compiling takes
  tens of seconds per window shape, so it pays off only on large volumes).
"""

from __future__ import annotations

import copy
import itertools
import math
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

    The same modules and weights, rearranged for inference on memory-bound hardware:

    * every feature map is written once into a workspace laid out as the final concatenation
      ``[stem | h_1, u_11 .. u_1n | h_2, u_21 .. | ...]``; each unit and compressor reads a
      channel range of it (no ``torch.cat``);
    * each unit's pre-activation batch norm is one per-channel multiply-add (eval statistics
      folded into a scale and a shift) written into a second workspace, followed by an in-place
      ELU, instead of a batch-norm pass and an ELU pass that each allocate;
    * the 1x1 compressors and the reconstruction are matrix products over the voxels;
    * on the CPU the windows of a batch run one at a time, so that a window's working set stays
      in the cache (a 3x3x3 convolution over 4 windows of 32^3 ran at 62 % of the speed of one
      window at a time on the benchmark machine), in channels-last layout (the workspace is a
      ``(voxels, channels)`` matrix; oneDNN's 3x3x3 convolutions with 16 output channels ran
      14 % faster in NDHWC), and both workspaces are kept between calls of the same shape (a
      fresh 40 MB allocation is page-faulted in on every call).

    The result equals the model's up to float rounding (about 1e-7 relative in fp32). With
    gradients enabled, a batch norm in training mode or an activation other than ELU, the
    wrapped model runs unchanged. Not thread-safe (the workspaces are shared between calls).

    Args:
        model: The mDCSRN whose modules are used (shared, not copied).

    Shape:
        Same as the wrapped model.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self._work: tuple[tuple[Any, ...], torch.Tensor, torch.Tensor] | None = None
        self._affine: dict[tuple[Any, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def _fast_path_ok(self) -> bool:
        if torch.is_grad_enabled():
            return False
        m: Any = self.model
        for block in m.blocks:
            for unit in block.units:
                bn, act = unit[0], unit[1]
                if not isinstance(bn, _BN) or bn.training or bn.running_var is None:
                    return False
                if not isinstance(act, nn.ELU):
                    return False
        return True

    def _unit_affines(self, ref: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per unit: its batch norm as ``scale * x + shift`` (two ``(C,)`` vectors in ``ref``'s dtype)."""
        key = (ref.dtype, ref.device, torch.is_inference_mode_enabled())
        if key not in self._affine:
            out = []
            m: Any = self.model
            for block in m.blocks:
                for unit in block.units:
                    bn = unit[0]
                    inv = torch.rsqrt(bn.running_var.double() + bn.eps)
                    scale = inv * (bn.weight.double() if bn.weight is not None else 1.0)
                    shift = -bn.running_mean.double() * scale
                    if bn.bias is not None:
                        shift = shift + bn.bias.double()
                    out.append((scale.to(ref.device, ref.dtype), shift.to(ref.device, ref.dtype)))
            self._affine = {key: out}  # one dtype/device at a time
        return self._affine[key]

    def _workspace(
        self, shape: tuple[int, ...], act_numel: int, ref: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The feature buffer (``shape``) and a flat activation buffer, kept between calls."""
        key = (shape, act_numel, ref.dtype, ref.device, torch.is_inference_mode_enabled())
        if self._work is None or self._work[0] != key:
            self._work = None  # free the old workspace before allocating the new one
            self._work = (key, ref.new_empty(shape), ref.new_empty((act_numel,)))
        return self._work[1], self._work[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from medsr.nn.validation import check_input

        m: Any = self.model
        check_input(x, model="MDCSRN", spatial_dims=m.spatial_dims, in_channels=m.in_channels)
        if not self._fast_path_ok():
            return m(x)  # type: ignore[no-any-return]
        if x.device.type == "cpu":
            return torch.cat([self._run_cpu(x[i : i + 1]) for i in range(x.shape[0])])
        return self._run_batched(x)

    def _run_cpu(self, x: torch.Tensor) -> torch.Tensor:
        """One window, channels-last: the workspace is a ``(voxels, channels)`` matrix."""
        m: Any = self.model
        spatial = tuple(x.shape[2:])
        voxels, nd = math.prod(spatial), len(spatial)
        to_cf = (0, nd + 1, *range(1, nd + 1))  # (1, *spatial, C) -> (1, C, *spatial)

        def as_5d(flat: torch.Tensor) -> torch.Tensor:  # (voxels, C) -> channels-last NC(D)HW
            return flat.view(1, *spatial, flat.shape[1]).permute(to_cf)

        stem = m.stem(x)  # its dtype (bf16 under autocast) is the features' dtype
        total = m.reconstruction.in_channels
        widest = max(u[2].in_channels for b in m.blocks for u in b.units)
        buf, act_flat = self._workspace((voxels, total), widest * voxels, stem)
        affines = iter(self._unit_affines(stem))
        width = stem.shape[1]
        as_5d(buf[:, :width]).copy_(stem)
        del stem
        start = width  # first channel of the current block: [h_i, u_i1, ...]
        buf[:, start : start + width] = buf[:, :width]  # block 1 input is the stem output
        for index, block in enumerate(m.blocks):
            end = start + width
            for unit in block.units:
                scale, shift = next(affines)
                act = act_flat[: (end - start) * voxels].view(voxels, end - start)
                torch.addcmul(shift, buf[:, start:end], scale, out=act)
                nn.functional.elu_(act, unit[1].alpha)
                y = unit[2](as_5d(act))
                as_5d(buf[:, end : end + y.shape[1]]).copy_(y)
                end += y.shape[1]
            if index < len(m.compressors):
                buf[:, end : end + width] = _pointwise_rows(m.compressors[index], buf[:, :end])
                start = end
        out = m.shuffle(as_5d(_pointwise_rows(m.reconstruction, buf)))
        out = out + x if getattr(m, "residual", False) else out
        return out.contiguous()

    def _run_batched(self, x: torch.Tensor) -> torch.Tensor:
        """All windows at once, channels-first (accelerators)."""
        m: Any = self.model
        batch, spatial = x.shape[0], tuple(x.shape[2:])
        voxels = math.prod(spatial)
        stem = m.stem(x)
        total = m.reconstruction.in_channels
        widest = max(u[2].in_channels for b in m.blocks for u in b.units)
        buf, act_flat = self._workspace((batch, total, *spatial), batch * widest * voxels, stem)
        affines = iter(self._unit_affines(stem))
        width = stem.shape[1]
        buf[:, :width] = stem
        del stem
        start = width
        buf[:, start : start + width] = buf[:, :width]
        per_channel = (-1, *([1] * len(spatial)))
        for index, block in enumerate(m.blocks):
            end = start + width
            for unit in block.units:
                scale, shift = next(affines)
                act = act_flat[: batch * (end - start) * voxels].view(batch, end - start, *spatial)
                torch.addcmul(
                    shift.view(per_channel), buf[:, start:end], scale.view(per_channel), out=act
                )
                nn.functional.elu_(act, unit[1].alpha)
                y = unit[2](act)
                buf[:, end : end + y.shape[1]] = y
                end += y.shape[1]
            if index < len(m.compressors):
                buf[:, end : end + width] = _pointwise(m.compressors[index], buf[:, :end], voxels)
                start = end
        out = m.shuffle(_pointwise(m.reconstruction, buf, voxels))
        return out + x if getattr(m, "residual", False) else out


def _pointwise_rows(conv: nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """A 1x1(x1) convolution of a ``(voxels, C_in)`` matrix (rows may be strided)."""
    assert isinstance(conv, _CONV)
    weight = conv.weight.flatten(1)
    y = torch.mm(rows, weight.t().to(rows.dtype))
    return y + conv.bias.to(y.dtype) if conv.bias is not None else y


def _pointwise(conv: nn.Module, x: torch.Tensor, voxels: int) -> torch.Tensor:
    """A 1x1(x1) convolution as a matrix product over the voxels (``x`` may be a channel slice)."""
    assert isinstance(conv, _CONV)
    weight = conv.weight.flatten(1)
    flat = x.flatten(2)  # a view: the spatial dims of a channel slice are contiguous
    y = torch.matmul(weight.to(flat.dtype), flat)
    if conv.bias is not None:
        y = y + conv.bias.to(y.dtype)[:, None]
    return y.view(x.shape[0], weight.shape[0], *x.shape[2:])


def buffer_concatenations(model: nn.Module) -> nn.Module:
    """``model`` wrapped in :class:`BufferedMDCSRN` when it is an mDCSRN, else unchanged."""
    from medsr.models.generators.mdcsrn import MDCSRN

    return BufferedMDCSRN(model) if type(model) is MDCSRN else model


_ELEMENTWISE = (
    nn.Identity, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.GELU, nn.PReLU
)  # fmt: skip


def _commuting_activation(act: nn.Module, block: int) -> nn.Module | None:
    """``act`` to apply before a pixel shuffle by ``block`` instead of after it, or None."""
    if not isinstance(act, _ELEMENTWISE):
        return None
    if isinstance(act, nn.PReLU) and act.num_parameters > 1:
        moved = nn.PReLU(act.num_parameters * block).to(act.weight)
        with torch.no_grad():  # LR channel c * block + k lands in HR channel c
            moved.weight.copy_(act.weight.repeat_interleave(block))
        return moved
    return act


def _fold_conv_through_shuffle(conv: nn.Module, factor: tuple[int, ...]) -> nn.Module | None:
    """The low-resolution convolution ``g`` with ``conv(shuffle(z)) == shuffle(g(z))``, or None.

    ``conv`` (odd kernel ``k``, stride 1, zero padding ``k // 2``) runs on the fine grid after a
    pixel shuffle by ``factor``. Fine position ``r * i + a`` reads fine offsets ``d`` in
    ``[-p, p]``, i.e. coarse position ``i + floor((a + d) / r)`` of shuffled channel
    ``c * block + (a + d) mod r``; so ``g`` has kernel ``2 * ceil(p / r) + 1`` on the coarse grid,
    ``in * block`` inputs and ``out * block`` outputs (one per sub-position), and zero padding on
    the coarse grid is zero padding on the fine grid.
    """
    if not isinstance(conv, _CONV) or conv.groups != 1 or conv.padding_mode != "zeros":
        return None
    nd = conv.weight.ndim - 2
    kernel = tuple(conv.kernel_size)
    if (
        len(factor) != nd
        or any(k % 2 == 0 for k in kernel)
        or tuple(conv.stride) != (1,) * nd
        or tuple(conv.dilation) != (1,) * nd
        or tuple(conv.padding) != tuple(k // 2 for k in kernel)  # type: ignore[arg-type]
    ):
        return None
    pads = [k // 2 for k in kernel]
    coarse = [-(-p // r) for p, r in zip(pads, factor)]  # ceil(p / r)
    block = math.prod(factor)
    w = conv.weight.detach().to(torch.float64)
    out_c, in_c = w.shape[:2]
    folded = torch.zeros(out_c * block, in_c * block, *(2 * c + 1 for c in coarse), dtype=w.dtype)
    subs = list(itertools.product(*(range(r) for r in factor)))  # row-major, as pixel_shuffle
    offsets = list(itertools.product(*(range(-c, c + 1) for c in coarse)))
    for a_index, a in enumerate(subs):
        for q_index, q in enumerate(subs):
            for e in offsets:
                d = [r * ei + qi - ai for r, ei, qi, ai in zip(factor, e, q, a)]
                if any(abs(di) > p for di, p in zip(d, pads)):
                    continue
                taps: tuple[Any, ...] = tuple(di + p for di, p in zip(d, pads))
                src = w[(slice(None), slice(None), *taps)]
                dst: tuple[Any, ...] = (
                    slice(a_index, None, block),  # output channel o * block + a
                    slice(q_index, None, block),  # input channel c * block + q
                    *(ei + c for ei, c in zip(e, coarse)),
                )
                folded[dst] = src
    make: Any = type(conv)
    g = make(in_c * block, out_c * block, tuple(folded.shape[2:]), padding=tuple(coarse),
             bias=conv.bias is not None)  # fmt: skip
    g = g.to(conv.weight)
    with torch.no_grad():
        g.weight.copy_(folded)
        if conv.bias is not None and g.bias is not None:
            g.bias.copy_(conv.bias.repeat_interleave(block))
    return g


def fold_output_shuffle(model: nn.Module, *, max_out_channels: int = 4) -> bool:
    """Run the image-output convolution of an SRResNet-style model on the coarse grid.

    SRResNet / SRGAN end in ``conv -> shuffle -> act`` (``model.upsample[-1]``, a
    :class:`~medsr.nn.upsample.SubPixelConv`) and then ``model.tail = conv(F -> 1) [-> act]``
    on the fine grid. A convolution with one output channel is slow (oneDNN ran the 2D 9x9 one
    at 27 % and the 3D 3^3 one at 4 % of the speed of a 64-channel convolution on the benchmark
    machine) and the shuffle copies ``F`` fine-grid channels. An elementwise activation commutes
    with the shuffle, so this rewrites the end as ``conv -> act -> g -> shuffle [-> act]`` with
    ``g`` from :func:`_fold_conv_through_shuffle`: the same function up to float rounding, and
    only ``out_channels * prod(factor)`` channels are shuffled. In place; returns whether it
    applied (only to tails of at most ``max_out_channels`` outputs, where it saves work).
    """
    from medsr.nn.pixel_shuffle import PixelShuffle
    from medsr.nn.upsample import SubPixelConv

    upsample, tail = getattr(model, "upsample", None), getattr(model, "tail", None)
    if not (isinstance(upsample, nn.Sequential) and isinstance(tail, nn.Sequential)):
        return False
    if not len(upsample) or not len(tail) or not isinstance(upsample[-1], SubPixelConv):
        return False
    stage, last = upsample[-1], tail[0]
    if not isinstance(last, _CONV) or last.out_channels > max_out_channels:
        return False
    scale = stage.shuffle.scale
    nd = last.weight.ndim - 2
    factor = (scale,) * nd if isinstance(scale, int) else tuple(scale)
    act = _commuting_activation(stage.act, math.prod(factor))
    folded = _fold_conv_through_shuffle(last, factor)
    if act is None or folded is None:
        return False
    upsample[-1] = nn.Sequential(stage.conv, act)
    model.tail = nn.Sequential(folded, PixelShuffle(factor), *list(tail)[1:])
    return True


def prepare_for_inference(
    model: nn.Module,
    *,
    device: torch.device | str = "cpu",
    fold_bn: bool = True,
    buffered: bool = True,
    fold_shuffle: bool = True,
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
