"""Scale-aware N-dimensional sliding-window inference with blending or exact halo cropping.

Two modes:

* **blended** (default): fixed-size windows on a regular grid with overlap; each prediction is
  weighted by a separable Gaussian or Hann window and the weighted sum is normalised. Because the
  windows form a Cartesian grid, the normalising weight sum is separable too and is never stored
  as a full volume. Accumulation is in float64 by default, so an identity predictor reproduces
  its float32 input bit for bit; ``accumulate_dtype=torch.float32`` halves the accumulator's
  memory (and skips the final float64 -> float32 copy) at the cost of about 1e-7 relative error.
* **exact** (``halo`` given): the volume is tiled into disjoint cores; each window is its core
  grown by ``halo`` voxels per side (clipped at the volume border, so the network sees the real
  border and applies its own padding) and only the core of the prediction is kept. With ``halo``
  at least the receptive-field radius of a translation-equivariant network (see
  :func:`medsr.models.analysis.receptive_field`), the result equals one full-volume pass.

Windows may run on a GPU (``device``) while the accumulator stays on the CPU, so volumes larger
than GPU memory work. Peak memory grows with the output size, not with the number of windows.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F

from medsr.conventions import normalize_scale

Blend = Literal["gaussian", "hann", "constant"]
#: A callable mapping a batch of windows to their predictions (e.g. a network's forward).
PredictFn = Callable[[torch.Tensor], torch.Tensor]
#: ``report(windows_done, windows_total)`` of the current :func:`window_progress` block.
Progress = Callable[[int, int], None]
_PROGRESS: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "medsr_window_progress", default=None
)


@contextlib.contextmanager
def window_progress(report: Progress) -> Iterator[None]:
    """Within the block, every :func:`sliding_window_inference` call reports
    ``report(done, total)`` windows: once with ``done = 0`` before the first network call and
    after every batch of windows (a progress bar for long volumes; no cost without a block)."""
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def window_starts(size: int, window: int, step: int) -> list[int]:
    """Start indices of windows of ``window`` voxels covering ``[0, size)``; the last ends at ``size``."""
    if window >= size:
        return [0]
    starts = list(range(0, size - window, step))
    starts.append(size - window)
    return sorted(set(starts))


def balanced_windows(
    shape: Sequence[int], *, max_window: int | Sequence[int], min_overlap: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Per-axis window sizes and overlaps that tile ``shape`` with little waste.

    Per axis, the fewest windows of at most ``max_window`` voxels that overlap by ``min_overlap``
    voxels, each as small as that allows; so the network computes the volume plus the overlaps,
    not whole windows hanging past the edge (a 189-voxel axis in 96-voxel windows at 1/8 overlap
    costs 3 windows = 288 voxels; balanced, it costs 2 x 103 = 206).

    Returns:
        ``(window, overlap)`` for :func:`sliding_window_inference`, one entry per axis
        (``overlap`` as fractions; 0 on axes covered by one window).

    Raises:
        ValueError: If ``min_overlap`` is not smaller than a window.
    """
    maxes = normalize_scale(max_window, len(shape), name="max_window", minimum=0)
    wins: list[int] = []
    overlaps: list[float] = []
    for n, m in zip(shape, maxes, strict=True):
        if min_overlap >= m:
            raise ValueError(f"min_overlap ({min_overlap}) must be smaller than the window ({m})")
        if n <= m:
            wins.append(int(n))
            overlaps.append(0.0)
            continue
        k = math.ceil((n - min_overlap) / (m - min_overlap))
        w = math.ceil((n + (k - 1) * min_overlap) / k)
        wins.append(w)
        overlaps.append(min_overlap / w)  # step = w - min_overlap exactly
    return tuple(wins), tuple(overlaps)


def blend_weights(n: int, kind: Blend, *, sigma_scale: float = 0.125) -> torch.Tensor:
    """1D blending profile of length ``n`` (float64, strictly positive)."""
    i = torch.arange(n, dtype=torch.float64)
    if kind == "constant":
        return torch.ones(n, dtype=torch.float64)
    if kind == "gaussian":
        sigma = max(sigma_scale * n, 1e-3)
        w = torch.exp(-0.5 * ((i - (n - 1) / 2) / sigma) ** 2)
    elif kind == "hann":
        w = 0.5 - 0.5 * torch.cos(2 * math.pi * (i + 0.5) / n)
    else:
        raise ValueError(f"unknown blend {kind!r}; use gaussian, hann or constant")
    return w.clamp_min(1e-6)


class _Batcher:
    """Collects windows, runs the predictor on batches, hands back (slot, prediction) pairs."""

    def __init__(
        self,
        predictor: PredictFn,
        *,
        batch_size: int,
        device: torch.device,
        amp: torch.dtype | None,
    ) -> None:
        self.predictor = predictor
        self.batch_size = batch_size
        self.device = device
        self.amp = amp
        self.items: list[tuple[Any, torch.Tensor]] = []
        self.report = _PROGRESS.get()
        self.done = 0
        self.total = 0

    def start(self, total: int) -> None:
        """Number of windows this call will run (for the progress report)."""
        self.total = total
        if self.report is not None:
            self.report(0, total)

    def add(self, key: Any, window: torch.Tensor) -> Iterator[tuple[Any, torch.Tensor]]:
        self.items.append((key, window))
        if len(self.items) >= self.batch_size:
            yield from self.flush()

    def flush(self) -> Iterator[tuple[Any, torch.Tensor]]:
        if not self.items:
            return
        keys = [k for k, _ in self.items]
        same = all(w.shape == self.items[0][1].shape for _, w in self.items)
        groups = [torch.cat([w for _, w in self.items])] if same else [w for _, w in self.items]
        self.items = []
        outs = []
        for g in groups:
            ctx = (
                torch.autocast(device_type=self.device.type, dtype=self.amp)
                if self.amp is not None
                else contextlib.nullcontext()
            )
            with torch.no_grad(), ctx:
                outs.append(self.predictor(g.to(self.device)).float().cpu())
            self.done += int(g.shape[0])
            if self.report is not None:
                self.report(self.done, self.total)
        pred = torch.cat(outs) if same else None
        for j, key in enumerate(keys):
            yield key, (pred[j : j + 1] if pred is not None else outs[j])


def sliding_window_inference(
    x: torch.Tensor,
    predictor: PredictFn,
    *,
    window: int | Sequence[int],
    scale: int | Sequence[int] = 1,
    overlap: float | Sequence[float] = 0.25,
    blend: Blend = "gaussian",
    sigma_scale: float = 0.125,
    batch_size: int = 4,
    halo: int | Sequence[int] | None = None,
    pad_mode: Literal["replicate", "reflect", "constant"] = "replicate",
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    out_channels: int | None = None,
    accumulate_dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Apply ``predictor`` to ``x`` window by window.

    Args:
        x: Input batch on the CPU (or any device; the accumulator lives on ``x.device``).
        predictor: Maps ``(b, C, *window)`` to ``(b, C_out, *(window * scale))``.
        window: Window size in input voxels (per axis or one int).
        scale: Per-axis output/input size ratio of the predictor.
        overlap: Fraction of the window shared by neighbours in blended mode, in ``[0, 1)``;
            one for all axes or one per axis.
        blend: Blending profile in blended mode.
        sigma_scale: Gaussian sigma as a fraction of the window.
        batch_size: Windows per predictor call.
        halo: Exact mode: context voxels per side around each core (at least the receptive-field
            radius); ``window`` is then the core size.
        pad_mode: Blended mode padding when the volume is smaller than the window.
        device: Where the predictor runs (windows are moved there, results come back).
        amp_dtype: ``torch.bfloat16`` / ``torch.float16`` to run the predictor under autocast.
        out_channels: Output channels if they differ from the input's (inferred otherwise).
        accumulate_dtype: Blended-mode accumulator dtype, ``torch.float64`` (bit-exact identity)
            or ``torch.float32`` (half the memory).

    Returns:
        ``(B, C_out, *(spatial * scale))`` float32 tensor on ``x.device``.

    Raises:
        ValueError: On bad arguments or a predictor output of the wrong shape.

    Shape:
        x: ``(B, C, *spatial)`` with 1 to 3 spatial axes.
    """
    if x.ndim < 3:
        raise ValueError(f"x must be (B, C, *spatial), got shape {tuple(x.shape)}")
    nd = x.ndim - 2
    spatial = tuple(int(s) for s in x.shape[2:])
    win = normalize_scale(window, nd, name="window")
    sc = normalize_scale(scale, nd)
    overlaps = (overlap,) * nd if isinstance(overlap, int | float) else tuple(overlap)
    if len(overlaps) != nd or not all(0.0 <= float(o) < 1.0 for o in overlaps):
        raise ValueError(f"overlap must be in [0, 1) (one value or {nd}), got {overlap}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if accumulate_dtype not in (torch.float64, torch.float32):
        raise ValueError(f"accumulate_dtype must be float64 or float32, got {accumulate_dtype}")
    dev = torch.device(device) if device is not None else x.device
    batcher = _Batcher(predictor, batch_size=batch_size, device=dev, amp=amp_dtype)
    c_out = out_channels if out_channels is not None else x.shape[1]
    out_shape = (x.shape[0], c_out, *(s * f for s, f in zip(spatial, sc, strict=True)))
    if halo is not None:
        return _exact(
            x, batcher, win, sc, normalize_scale(halo, nd, name="halo", minimum=0), out_shape
        )
    return _blended(
        x, batcher, win, sc, overlaps, blend, sigma_scale, pad_mode, out_shape, accumulate_dtype
    )


def _check_pred(pred: torch.Tensor, expected: Sequence[int]) -> None:
    if tuple(pred.shape[2:]) != tuple(expected):
        raise ValueError(
            f"predictor returned spatial shape {tuple(pred.shape[2:])}, expected {tuple(expected)}; "
            "check the scale argument"
        )


def _exact(
    x: torch.Tensor,
    batcher: _Batcher,
    core: tuple[int, ...],
    sc: tuple[int, ...],
    halo: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> torch.Tensor:
    spatial = tuple(int(n) for n in x.shape[2:])
    out = torch.zeros(out_shape, dtype=torch.float32, device=x.device)

    def place(key: Any, pred: torch.Tensor) -> None:
        b: int = key[0]
        axes: tuple[tuple[int, int, int, int], ...] = key[1]
        _check_pred(pred, [(hi - lo) * s for (lo, hi, _, _), s in zip(axes, sc, strict=True)])
        src = tuple(
            slice((c0 - lo) * s, (c1 - lo) * s) for (lo, _, c0, c1), s in zip(axes, sc, strict=True)
        )
        dst = tuple(slice(c0 * s, c1 * s) for (_, _, c0, c1), s in zip(axes, sc, strict=True))
        out[(slice(b, b + 1), slice(None), *dst)] = pred[(slice(None), slice(None), *src)].to(out)

    ranges = [range(0, n, c) for n, c in zip(spatial, core, strict=True)]
    batcher.start(x.shape[0] * math.prod(len(r) for r in ranges))
    for b in range(x.shape[0]):
        for starts in itertools.product(*ranges):
            # per axis: (window lo, window hi, core lo, core hi); the window is clipped to the volume
            axes = tuple(
                (max(c0 - h, 0), min(c0 + c + h, n), c0, min(c0 + c, n))
                for c0, c, h, n in zip(starts, core, halo, spatial, strict=True)
            )
            win = x[(slice(b, b + 1), slice(None), *(slice(lo, hi) for lo, hi, _, _ in axes))]
            for k, p in batcher.add((b, axes), win):
                place(k, p)
    for k, p in batcher.flush():
        place(k, p)
    return out


def _blended(
    x: torch.Tensor,
    batcher: _Batcher,
    win: tuple[int, ...],
    sc: tuple[int, ...],
    overlap: Sequence[float],
    blend: Blend,
    sigma_scale: float,
    pad_mode: str,
    out_shape: tuple[int, ...],
    acc_dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    spatial = tuple(int(s) for s in x.shape[2:])
    # Volumes smaller than the window are padded at the high end, then cropped back.
    pad = [max(w - n, 0) for w, n in zip(win, spatial, strict=True)]
    if any(pad):
        flat = [v for p in reversed(pad) for v in (0, p)]
        xp = F.pad(x, flat, mode=pad_mode)
    else:
        xp = x
    padded = tuple(int(s) for s in xp.shape[2:])
    steps = [max(1, round(w * (1 - o))) for w, o in zip(win, overlap, strict=True)]
    starts = [window_starts(n, w, st) for n, w, st in zip(padded, win, steps, strict=True)]
    batcher.start(x.shape[0] * math.prod(len(st) for st in starts))
    prof = [
        blend_weights(w * s, blend, sigma_scale=sigma_scale) for w, s in zip(win, sc, strict=True)
    ]
    # Separable normaliser: the window grid is a Cartesian product of per-axis starts.
    norms = []
    for n, s, st, p in zip(padded, sc, starts, prof, strict=True):
        acc = torch.zeros(n * s, dtype=torch.float64)
        for a in st:
            acc[a * s : a * s + p.numel()] += p
        norms.append(acc)
    acc_shape = (out_shape[0], out_shape[1], *(n * s for n, s in zip(padded, sc, strict=True)))
    acc = torch.zeros(acc_shape, dtype=acc_dtype, device=x.device)
    nd = len(win)
    wfull = prof[0]
    for p in prof[1:]:
        wfull = wfull[..., None] * p
    wfull = wfull.to(x.device, acc_dtype)

    def place(key: Any, pred: torch.Tensor) -> None:
        b: int = key[0]
        st: tuple[int, ...] = key[1]
        _check_pred(pred, [w * s for w, s in zip(win, sc, strict=True)])
        dst = tuple(slice(a * s, (a + w) * s) for a, w, s in zip(st, win, sc, strict=True))
        acc[(slice(b, b + 1), slice(None), *dst)] += pred.to(acc.device, acc_dtype) * wfull

    for b in range(x.shape[0]):
        for pos in itertools.product(*starts):
            sl = tuple(slice(a, a + w) for a, w in zip(pos, win, strict=True))
            for k, p in batcher.add((b, pos), xp[(slice(b, b + 1), slice(None), *sl)]):
                place(k, p)
    for k, p in batcher.flush():
        place(k, p)
    for a in range(nd):
        shape = [1] * (nd + 2)
        shape[a + 2] = -1
        acc /= norms[a].to(acc.device, acc_dtype).view(shape)
    if padded == spatial and acc_dtype == torch.float32:
        return acc  # no crop, no conversion: no second output-sized buffer
    crop = tuple(slice(0, n * s) for n, s in zip(spatial, sc, strict=True))
    return acc[(slice(None), slice(None), *crop)].to(torch.float32)
