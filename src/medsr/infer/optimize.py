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
        self._work: tuple[tuple[Any, ...], list[torch.Tensor]] | None = None
        self._affine: dict[tuple[Any, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._levels: dict[tuple[Any, ...], tuple[list[tuple[torch.Tensor, int]], Any]] = {}

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
        """Per unit: its batch norm as ``scale * x + shift`` (two ``(C,)`` vectors).

        In the features' dtype: a float32 scale on bfloat16 features sends ``addcmul`` down a
        mixed-dtype path 10x slower (measured), and the rounding of the scale is below the
        rounding of the features (the accuracy of the whole network under bf16 autocast was
        unchanged, ``benchmarks/infer_bf16.py``).
        """
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
        self, numels: tuple[int, ...], ref: torch.Tensor, wide: tuple[bool, ...] = ()
    ) -> list[torch.Tensor]:
        """Flat buffers of the given sizes in ``ref``'s dtype (float32 where ``wide``), kept
        between calls."""
        wide = wide or (False,) * len(numels)
        key = (numels, wide, ref.dtype, ref.device, torch.is_inference_mode_enabled())
        if self._work is None or self._work[0] != key:
            self._work = None  # free the old workspace before allocating the new one
            accurate = torch.promote_types(ref.dtype, torch.float32)
            self._work = (
                key,
                [ref.new_empty((n,), dtype=accurate if w else None) for n, w in zip(numels, wide)],
            )
        return self._work[1]

    def _level_weights(
        self, ref: torch.Tensor
    ) -> tuple[list[tuple[torch.Tensor, int]], torch.Tensor | None]:
        """Per level (stem, block 1, ...): the 1x1 weights of every consumer it feeds, stacked.

        Compressor ``t`` reads the stem and blocks ``1 .. t + 1``; the reconstruction reads
        all. Consumers are laid out as the columns of one accumulator ``[c_0 | c_1 | .. | rec]``,
        so level ``L`` feeds the suffix that starts at compressor ``max(L - 1, 0)``: one matrix
        product per level with ``(N_L, C_L)`` weights. Returns ``(weights, first column)`` per
        level and the consumers' biases as one vector (None without biases).
        """
        key = (ref.dtype, ref.device, torch.is_inference_mode_enabled())
        if key not in self._levels:
            m: Any = self.model
            consumers = [*m.compressors, m.reconstruction]
            widths = [m.stem.out_channels] + [b.out_channels for b in m.blocks]
            bounds = [0, *itertools.accumulate(widths)]
            starts = [0, *itertools.accumulate(c.out_channels for c in consumers)]
            levels = []
            for level in range(len(widths)):
                first = max(level - 1, 0)
                rows = [
                    c.weight.flatten(1)[:, bounds[level] : bounds[level + 1]]
                    for c in consumers[first:]
                ]
                w = torch.cat(rows).to(ref.device, ref.dtype).contiguous()
                levels.append((w, starts[first]))
            bias = None
            if any(c.bias is not None for c in consumers):
                parts = [
                    c.bias if c.bias is not None else c.weight.new_zeros(c.out_channels)
                    for c in consumers
                ]
                bias = torch.cat(parts).to(ref.device, ref.dtype)
            self._levels = {key: (levels, bias)}  # one dtype/device at a time
        return self._levels[key]

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
        """One window, channels-last: each level is a dense ``(voxels, channels)`` matrix.

        The 1x1 compressors and the reconstruction are accumulated level by level (see
        :meth:`_level_weights`) with dense oneDNN matrix products, instead of one strided
        product over the whole running concatenation per consumer.
        """
        m: Any = self.model
        spatial = tuple(x.shape[2:])
        voxels, nd = math.prod(spatial), len(spatial)
        to_cf = (0, nd + 1, *range(1, nd + 1))  # (1, *spatial, C) -> (1, C, *spatial)

        def as_5d(flat: torch.Tensor) -> torch.Tensor:  # (voxels, C) -> channels-last NC(D)HW
            return flat.view(1, *spatial, flat.shape[1]).permute(to_cf)

        stem = m.stem(x)  # its dtype (bf16 under autocast) is the features' dtype
        width = stem.shape[1]
        widths = [width] + [b.out_channels for b in m.blocks]
        widest = max(u[2].in_channels for b in m.blocks for u in b.units)
        outs = sum(c.out_channels for c in [*m.compressors, m.reconstruction])
        numels = (voxels * sum(widths), voxels * widest, voxels * outs)
        # the accumulator stays float32 under bf16 autocast (sums over levels)
        feats, act_flat, acc_flat = self._workspace(numels, stem, wide=(False, False, True))
        acc = acc_flat.view(voxels, outs)
        bounds = [0, *itertools.accumulate(widths)]
        level_mats = [
            feats[voxels * a : voxels * b].view(voxels, b - a)
            for a, b in itertools.pairwise(bounds)
        ]
        weights, bias = self._level_weights(stem)
        affines = iter(self._unit_affines(stem))
        as_5d(level_mats[0]).copy_(stem)
        del stem
        acc.copy_(_matmul_rows(level_mats[0], weights[0][0]))
        if bias is not None:
            acc += bias
        hidden = level_mats[0]  # the input h of the next block
        for index, block in enumerate(m.blocks):
            mat = level_mats[index + 1]
            mat[:, :width] = hidden
            end = width
            for unit in block.units:
                scale, shift = next(affines)
                act = act_flat[: end * voxels].view(voxels, end)
                torch.addcmul(shift, mat[:, :end], scale, out=act)
                nn.functional.elu_(act, unit[1].alpha)
                y = unit[2](as_5d(act))
                as_5d(mat[:, end : end + y.shape[1]]).copy_(y)
                end += y.shape[1]
            w, first = weights[index + 1]
            acc[:, first:] += _matmul_rows(mat, w).to(acc.dtype)
            hidden = acc[:, first : first + width]  # compressor `index` is complete
        rec = m.reconstruction
        out = m.shuffle(as_5d(acc[:, outs - rec.out_channels :]))
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
        buf_flat, act_flat = self._workspace(
            (batch * total * voxels, batch * widest * voxels), stem
        )
        buf = buf_flat.view(batch, total, *spatial)
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


def _matmul_rows(rows: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``rows @ weight.T`` for a dense ``(voxels, C_in)`` matrix (a 1x1 convolution).

    On the CPU through oneDNN's matmul (``torch.ops.mkldnn._linear_pointwise``, the kernel
    ``torch.compile`` uses): 160-210 GFLOP/s for these tall, thin products on the benchmark
    machine, whose MKL ``torch.mm`` ran them at 55-70. ``torch.mm`` where it is missing.
    """
    linear = _onednn_linear() if rows.device.type == "cpu" else None
    if linear is not None:
        try:
            return linear(rows, weight, None, "none", [], "")  # type: ignore[no-any-return]
        except RuntimeError:  # pragma: no cover - a build whose oneDNN rejects the call
            pass
    return torch.mm(rows, weight.t())


def _onednn_linear() -> Any:
    """``torch.ops.mkldnn._linear_pointwise`` where this torch build has it, else None."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


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


class CoarseGridConv(nn.Module):
    """A fine-grid convolution after a pixel shuffle, run on the coarse grid before it.

    ``conv`` (odd kernel ``k = 2p + 1``, stride 1, zero padding ``p``) on the output of a pixel
    shuffle by ``r`` (per axis) equals ``shuffle(g(z))`` for a convolution ``g`` on the coarse
    grid with ``in * prod(r)`` inputs and ``out * prod(r)`` outputs, one per sub-position ``a``.
    Fine position ``r i + a`` reads fine offsets ``d`` in ``[-p, p]``, which are coarse offsets
    ``e`` with ``r e + q - a = d`` of shuffled channel ``c * prod(r) + q``; per axis the
    sub-position ``a`` needs ``e`` in ``[ceil((a - p - r + 1) / r), floor((p + a) / r)]``.
    ``g`` uses a kernel of the widest such range ``n`` (2 instead of 3 for ``k = 3, r = 2``: an
    eighth of the taps of the union in 3D), and each sub-position's output is read at its own
    shift (the ``offsets``). Zero padding on the coarse grid is zero padding on the fine grid, so
    the result equals the fine-grid convolution up to float rounding.

    Args:
        conv: The fine-grid convolution (not modified).
        factor: The shuffle's per-axis factor.

    Raises:
        ValueError: For a kernel this cannot fold (even, strided, dilated, grouped, padded
            otherwise than ``k // 2`` with zeros).
    """

    def __init__(self, conv: nn.Module, factor: tuple[int, ...]) -> None:
        super().__init__()
        if not isinstance(conv, _CONV) or conv.groups != 1 or conv.padding_mode != "zeros":
            raise ValueError("only a plain, ungrouped, zero-padded convolution can be folded")
        nd = conv.weight.ndim - 2
        kernel = tuple(conv.kernel_size)
        if (
            len(factor) != nd
            or any(k % 2 == 0 for k in kernel)
            or tuple(conv.stride) != (1,) * nd
            or tuple(conv.dilation) != (1,) * nd
            or tuple(conv.padding) != tuple(k // 2 for k in kernel)  # type: ignore[arg-type]
        ):
            raise ValueError(f"cannot fold {conv} through a shuffle by {factor}")
        pads = [k // 2 for k in kernel]
        lows, taps, coarse_pad = [], [], []
        for r, p in zip(factor, pads):
            lo = [-((p + r - 1 - a) // r) for a in range(r)]  # ceil((a - p - r + 1) / r)
            hi = [(p + a) // r for a in range(r)]
            n = max(h - low + 1 for low, h in zip(lo, hi))
            lows.append(lo)
            taps.append(n)
            coarse_pad.append(max(max(-low for low in lo), max(lo) + n - 1))
        block = math.prod(factor)
        w = conv.weight.detach().to(torch.float64)
        out_c, in_c = w.shape[:2]
        folded = torch.zeros(out_c * block, in_c * block, *taps, dtype=w.dtype)
        subs = list(itertools.product(*(range(r) for r in factor)))  # row-major, as pixel_shuffle
        for a_index, a in enumerate(subs):
            for q_index, q in enumerate(subs):
                for t in itertools.product(*(range(n) for n in taps)):
                    e = [lo[ai] + ti for lo, ai, ti in zip(lows, a, t)]
                    d = [r * ei + qi - ai for r, ei, qi, ai in zip(factor, e, q, a)]
                    if any(abs(di) > p for di, p in zip(d, pads)):
                        continue
                    src_index: tuple[Any, ...] = (
                        slice(None), slice(None), *(di + p for di, p in zip(d, pads))
                    )  # fmt: skip
                    dst: tuple[Any, ...] = (
                        slice(a_index, None, block),  # output channel o * block + a
                        slice(q_index, None, block),  # input channel c * block + q
                        *t,
                    )
                    folded[dst] = w[src_index]
        make: Any = type(conv)
        self.conv = make(in_c * block, out_c * block, tuple(taps), padding=tuple(coarse_pad),
                         bias=conv.bias is not None).to(conv.weight)  # fmt: skip
        with torch.no_grad():
            self.conv.weight.copy_(folded)
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias.repeat_interleave(block))
        self.block = block
        # per sub-position: where its coarse output starts in g's output, per axis
        self.offsets = [
            tuple(lo[ai] + pad for lo, ai, pad in zip(lows, a, coarse_pad)) for a in subs
        ]
        self.trim = tuple(2 * pad - n + 1 for pad, n in zip(coarse_pad, taps))  # extra length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if all(o == (0,) * len(o) for o in self.offsets) and not any(self.trim):
            return y  # every sub-position reads the same window: no shifts
        n = x.shape[2:]
        out = y.new_empty((y.shape[0], y.shape[1], *n))
        for a_index, off in enumerate(self.offsets):
            crop = tuple(slice(o, o + size) for o, size in zip(off, n))
            out[:, a_index :: self.block] = y[
                (slice(None), slice(a_index, None, self.block), *crop)
            ]
        return out


def fold_output_shuffle(model: nn.Module, *, max_out_channels: int = 4) -> bool:
    """Run the image-output convolution of an SRResNet-style model on the coarse grid.

    SRResNet / SRGAN end in ``conv -> shuffle -> act`` (``model.upsample[-1]``, a
    :class:`~medsr.nn.upsample.SubPixelConv`) and then ``model.tail = conv(F -> 1) [-> act]``
    on the fine grid. A convolution with one output channel is slow (oneDNN ran the 2D 9x9 one
    at 27 % and the 3D 3^3 one at 4 % of the speed of a 64-channel convolution on the benchmark
    machine) and the shuffle copies ``F`` fine-grid channels. An elementwise activation commutes
    with the shuffle, so this rewrites the end as ``conv -> act -> g -> shuffle [-> act]`` with
    ``g`` a :class:`CoarseGridConv`: the same function up to float rounding, and
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
    if act is None:
        return False
    try:
        folded = CoarseGridConv(last, factor)
    except ValueError:
        return False
    upsample[-1] = nn.Sequential(stage.conv, act)
    model.tail = nn.Sequential(folded, PixelShuffle(factor), *list(tail)[1:])
    return True


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
        formats = {4: torch.channels_last, 5: torch.channels_last_3d}
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, _CONV) and m.weight.ndim in formats:
                    m.weight.data = m.weight.data.to(memory_format=formats[m.weight.ndim])
    if compile:
        compiled: Any = torch.compile(net, dynamic=False)
        return compiled  # type: ignore[no-any-return]
    return net


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
