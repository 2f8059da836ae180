"""mDCSRN evaluated for inference without its concatenations (see :class:`BufferedMDCSRN`).

The inference form of :class:`~medsr.models.generators.mdcsrn.MDCSRN`: its
``inference_form`` hook returns a :class:`BufferedMDCSRN` (see :mod:`medsr.nn.inference`), which
:func:`medsr.infer.optimize.prepare_for_inference` applies.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import torch
from torch import nn

from medsr.nn.inference import BN as _BN
from medsr.nn.inference import CONV as _CONV
from medsr.nn.validation import check_input


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

    On the CPU it runs the windows of a batch one at a time itself, so it declares
    ``splits_cpu_batches`` (:data:`medsr.nn.inference.SPLITS_CPU_BATCHES`): a caller such as
    the :class:`~medsr.infer.Predictor` passes it whole batches.

    Args:
        model: The mDCSRN whose modules are used (shared, not copied).

    Shape:
        Same as the wrapped model.
    """

    #: Runs the windows of a CPU batch one at a time (see :mod:`medsr.nn.inference`).
    splits_cpu_batches = True

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self._work: tuple[tuple[Any, ...], list[torch.Tensor]] | None = None
        self._affine: dict[tuple[Any, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._levels: dict[tuple[Any, ...], tuple[list[tuple[torch.Tensor, int]], Any]] = {}

    def inference_form(self, **options: Any) -> nn.Module:
        """Already an inference form: itself (preparing it again does not wrap it twice)."""
        return self

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


@functools.cache
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
