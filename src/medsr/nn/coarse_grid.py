"""An output convolution moved from the fine grid to the coarse grid, before a pixel shuffle.

:class:`CoarseGridConv` is a fine-grid convolution after a pixel shuffle, run on the coarse grid
before it. :func:`fold_output_shuffle` rewrites the end ``upsample -> tail`` of a network built
from :class:`~medsr.nn.upsample.SubPixelConv` stages (SRResNet / SRGAN, RRDBNet with
``upsample="pixelshuffle"``), ``conv -> shuffle -> act -> conv(F -> 1)``, as
``conv -> act -> CoarseGridConv -> shuffle``; those networks call it from their
``inference_form`` (see :mod:`medsr.nn.inference`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

from medsr.nn.inference import CONV as _CONV
from medsr.nn.pixel_shuffle import PixelShuffle
from medsr.nn.upsample import SubPixelConv

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
    applied (only to tails of at most ``max_out_channels`` outputs, where it saves work, and
    only to a model laid out as above: ``upsample`` an ``nn.Sequential`` ending in a
    ``SubPixelConv``, ``tail`` an ``nn.Sequential`` starting with the convolution). Networks
    with that layout call it from their ``inference_form`` (see :mod:`medsr.nn.inference`).
    """
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
