"""Where training crops come from: the epoch/batch order, crop locations, augmentation.

* :class:`EpochSampler` yields ``(epoch, index)`` keys in global-batch order, forever, starting
  at any global batch (exact resume) and sharded by rank (distributed training: rank ``r`` of
  ``W`` takes the ``r``-th slice of every global batch, so ``W`` processes see exactly the
  samples one process sees with the same global batch). It plays the role of
  :class:`torch.utils.data.DistributedSampler`, with a resumable position.
* :func:`crop_start` picks a crop: with probability ``p_fg`` centred on a random foreground
  voxel, otherwise anywhere; starts are aligned to the scale so the low-quality crop is exact.
* :func:`augment` applies one random flip / rot90 draw identically to several arrays.

Everything random takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


class EpochSampler(torch.utils.data.Sampler[tuple[int, int]]):
    """Infinite, resumable, rank-sharded stream of ``(epoch, index)`` keys.

    Epoch ``e`` visits ``range(length)`` in the order of a permutation seeded by ``(seed, e)``
    (or in order without ``shuffle``), cut into global batches of ``global_batch`` keys; a last
    partial batch is dropped.

    Args:
        length: Keys per epoch.
        global_batch: Samples per optimisation step over all ranks.
        seed: Seed of the per-epoch permutations.
        rank: This process's rank.
        world_size: Number of processes; must divide ``global_batch``.
        start_batch: Number of global batches already consumed (resume position).
        shuffle: Permute each epoch.

    Raises:
        ValueError: On inconsistent sizes.
    """

    def __init__(
        self,
        *,
        length: int,
        global_batch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
        shuffle: bool = True,
    ) -> None:
        if global_batch < 1 or length < global_batch:
            raise ValueError(f"need 1 <= global_batch <= length, got {global_batch} and {length}")
        if world_size < 1 or global_batch % world_size or not 0 <= rank < world_size:
            raise ValueError(
                f"global batch {global_batch} must split evenly over {world_size} ranks "
                f"(rank {rank})"
            )
        self.length = length
        self.global_batch = global_batch
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.shuffle = shuffle
        self.batches_per_epoch = length // global_batch
        self.local_batch = global_batch // world_size

    def order(self, epoch: int) -> np.ndarray:
        """The visiting order of epoch ``epoch``."""
        if not self.shuffle:
            return np.arange(self.length)
        return np.random.default_rng([self.seed, epoch]).permutation(self.length)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        batch = self.start_batch
        while True:
            epoch, within = divmod(batch, self.batches_per_epoch)
            order = self.order(epoch)
            for b in range(within, self.batches_per_epoch):
                lo = b * self.global_batch + self.rank * self.local_batch
                for idx in order[lo : lo + self.local_batch]:
                    yield (epoch, int(idx))
            batch = (epoch + 1) * self.batches_per_epoch

    def __len__(self) -> int:  # pragma: no cover - infinite; len is one epoch for tooling
        return self.batches_per_epoch * self.local_batch


def foreground_index(
    image: np.ndarray, *, threshold: float, max_points: int = 200_000
) -> np.ndarray:
    """Flat indices of voxels above ``threshold`` (evenly thinned to at most ``max_points``).

    Shape:
        image: ``(D, H, W)``.
    """
    idx = np.flatnonzero(image > threshold)
    if idx.size > max_points:
        idx = idx[:: int(np.ceil(idx.size / max_points))]
    return idx.astype(np.int64)


def crop_start(
    rng: np.random.Generator,
    *,
    shape: Sequence[int],
    patch: Sequence[int],
    align: Sequence[int],
    fg_index: np.ndarray,
    p_fg: float,
) -> tuple[int, ...]:
    """Start of a crop of size ``patch`` inside ``shape``.

    Args:
        rng: Source of the draws (always two draws, so streams stay aligned).
        shape: Volume shape ``(D, H, W)``.
        patch: Crop size, each ``<= shape`` and divisible by ``align``.
        align: Starts are multiples of these (the scale).
        fg_index: Flat foreground indices (may be empty).
        p_fg: Probability of centring the crop on a foreground voxel.

    Returns:
        Start index per axis.
    """
    use_fg = rng.random() < p_fg and fg_index.size > 0
    u = rng.random(len(shape))
    if use_fg:
        flat = fg_index[min(int(u[0] * fg_index.size), fg_index.size - 1)]
        centre = np.unravel_index(int(flat), tuple(shape))
        starts = [int(c) - int(p) // 2 for c, p in zip(centre, patch)]
    else:
        starts = [int(ui * (n - p + 1)) for ui, n, p in zip(u, shape, patch)]
    out: list[int] = []
    for s, n, p, a in zip(starts, shape, patch, align):
        s = min(max(s, 0), int(n) - int(p))
        out.append(s - s % int(a))
    return tuple(out)


def augment(
    rng: np.random.Generator,
    arrays: Sequence[np.ndarray],
    *,
    spatial_dims: int,
    flip: bool,
    rot90: bool,
) -> list[np.ndarray]:
    """Apply one random flip pattern and rot90 (in the last two axes) to every array.

    The draws are made whatever the switches, so one sample's randomness does not depend on
    the augmentation settings. rot90 applies only when every array is square in its last two
    axes.

    Args:
        rng: Source of the draws.
        arrays: Arrays whose last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        flip: Random flips along every spatial axis.
        rot90: Random quarter turns in the last two axes.

    Returns:
        The transformed (contiguous) arrays.
    """
    flips = rng.random(spatial_dims) < 0.5
    turns = int(rng.integers(4))
    out = []
    square = all(a.shape[-1] == a.shape[-2] for a in arrays)
    for a in arrays:
        if flip:
            axes = tuple(a.ndim - spatial_dims + i for i, f in enumerate(flips) if f)
            if axes:
                a = np.flip(a, axis=axes)
        if rot90 and square and turns:
            a = np.rot90(a, k=turns, axes=(a.ndim - 2, a.ndim - 1))
        out.append(np.ascontiguousarray(a))
    return out
