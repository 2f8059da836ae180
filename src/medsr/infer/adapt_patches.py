"""Training and validation patches of a self-supervised pair (per-scan adaptation).

The pair is split along its roomiest axis into a training region and a validation slab (at
the start or the end, chosen with the generator), so the validation patches never overlap a
training patch. Validation patches are drawn once and kept; training patches are drawn per step,
mostly centred on foreground voxels (:func:`~medsr.data.samplers.crop_start`), with random flips
(:func:`~medsr.data.samplers.augment`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from medsr.data.samplers import augment, crop_start, foreground_index
from medsr.errors import InputError

#: Fewest network-input voxels a patch may have along a network axis.
MIN_LQ = 4


def _down(n: int, s: int) -> int:
    return n - n % s


class PatchSource:
    """Patches of a pair in network units.

    Args:
        x_lq: ``(C, *lq)`` network input in network units; a 2D model's slice axis first.
        x_hq: ``(C, *hq)`` target in network units, ``hq = lq * scale``.
        scale: ``(sd, sh, sw)`` between them (``sd = 1`` for a 2D model).
        spatial_dims: The network's dims: 3 (boxes) or 2 (one slice along the first axis).
        patch: Patch size in target voxels per network axis (one int or ``spatial_dims``).
        rng: Draws the validation slab and patches.
        n_val: Validation patches.
        val_fraction: Share of the roomiest axis held out for validation (at least one patch).
        foreground: Probability of centring a patch on a foreground voxel.
        fg_threshold: Foreground threshold on the target, in network units.
        path: Named in errors.

    Raises:
        InputError: When the pair is too small to hold a training and a validation patch.
    """

    def __init__(
        self,
        x_lq: np.ndarray,
        x_hq: np.ndarray,
        *,
        scale: Sequence[int],
        spatial_dims: int,
        patch: int | Sequence[int],
        rng: np.random.Generator,
        n_val: int = 4,
        val_fraction: float = 0.25,
        foreground: float = 0.9,
        fg_threshold: float = 0.1,
        path: str = "<input>",
    ) -> None:
        self.x_lq, self.x_hq = x_lq, x_hq
        self.scale = tuple(int(s) for s in scale)
        self.spatial_dims = spatial_dims
        self.foreground = foreground
        shape = tuple(int(n) for n in x_hq.shape[1:])
        pt = (patch,) * spatial_dims if isinstance(patch, int) else tuple(int(p) for p in patch)
        if len(pt) != spatial_dims or min(pt) < 1:
            raise InputError(path, f"patch must be {spatial_dims} positive ints, got {patch!r}")
        p = list(pt) if spatial_dims == 3 else [1, *pt]
        p = [max(s, _down(min(pi, n), s)) for pi, n, s in zip(p, shape, self.scale)]
        free = [i for i in range(3) if not (spatial_dims == 2 and i == 0 and shape[0] == 1)]
        a = max(free, key=lambda i: shape[i] / p[i])
        if shape[a] < 2 * p[a]:
            p[a] = _down(shape[a] // 2, self.scale[a])
        small = [
            i
            for i in range(3)
            if not (spatial_dims == 2 and i == 0) and p[i] // self.scale[i] < MIN_LQ
        ]
        if p[a] < 1 or small:
            raise InputError(
                path,
                f"the adaptation pair {shape} is too small to hold separate training and "
                f"validation patches (patch {tuple(p)}); use a larger input or a smaller patch",
            )
        val_len = max(p[a], math.ceil(val_fraction * shape[a]))
        val_len = min(-(-val_len // self.scale[a]) * self.scale[a], _down(shape[a] - p[a], 1))
        val_len = _down(val_len, self.scale[a])
        at_end = bool(rng.random() < 0.5)
        cut = shape[a] - val_len if at_end else val_len
        train = [(0, n) for n in shape]
        val = [(0, n) for n in shape]
        train[a], val[a] = ((0, cut), (cut, shape[a])) if at_end else ((cut, shape[a]), (0, cut))
        self.patch = (p[0], p[1], p[2])
        self.split_axis = a
        self.train_box = tuple(train)
        self.val_box = tuple(val)
        self._train_fg = self._fg(self.train_box, fg_threshold)
        val_fg = self._fg(self.val_box, fg_threshold)
        starts = [self._start(rng, self.val_box, val_fg) for _ in range(n_val)]
        self.val_starts = list(dict.fromkeys(starts))  # a slab one patch wide repeats starts

    def _fg(self, box: Sequence[tuple[int, int]], threshold: float) -> np.ndarray:
        index: tuple[Any, ...] = (0, *(slice(lo, hi) for lo, hi in box))
        region = self.x_hq[index]
        return foreground_index(region, threshold=threshold)

    def _start(
        self, rng: np.random.Generator, box: Sequence[tuple[int, int]], fg: np.ndarray
    ) -> tuple[int, ...]:
        rel = crop_start(
            rng,
            shape=[hi - lo for lo, hi in box],
            patch=self.patch,
            align=self.scale,
            fg_index=fg,
            p_fg=self.foreground,
        )
        return tuple(r + lo for r, (lo, _) in zip(rel, box))

    def _cut(self, start: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        hq = self.x_hq[(slice(None), *(slice(s, s + p) for s, p in zip(start, self.patch)))]
        lq = self.x_lq[
            (slice(None), *(slice(s // f, (s + p) // f) for s, p, f in zip(start, self.patch, self.scale)))
        ]  # fmt: skip
        if self.spatial_dims == 2:
            return lq[:, 0], hq[:, 0]
        return lq, hq

    def train_batch(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """``batch`` random training patches with random flips: ``(x_lq, x_hq)`` stacked."""
        xs, ys = [], []
        for _ in range(batch):
            lq, hq = self._cut(self._start(rng, self.train_box, self._train_fg))
            lq, hq = augment(rng, [lq, hq], spatial_dims=self.spatial_dims, flip=True, rot90=False)
            xs.append(lq)
            ys.append(hq)
        return np.stack(xs), np.stack(ys)

    def val_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed validation patches: ``(x_lq, x_hq)`` stacked."""
        cuts = [self._cut(s) for s in self.val_starts]
        return np.stack([c[0] for c in cuts]), np.stack([c[1] for c in cuts])
