"""The parallel-beam projector and back-projection of :mod:`medsr.degrade.ct_projector` as sparse
matrices applied to many slices at once (the fast path; same geometry, same interpolation).

Three things make it fast:

1. The slices are the columns of one dense matrix, so each interpolation weight is computed once per
   call instead of once per slice, and the sparse-dense product (torch CSR) streams contiguous rows.
2. Symmetry: only angles ``phi`` in ``[0, pi/4]`` need weights. With ``AT(I) = I[::-1, ::-1].T``
   (swap ``x`` and ``y``) and ``F(I) = I[:, ::-1]`` (``x -> -x``), the projection at ``theta`` is
   the row-stepping projection at ``phi`` of ``I`` (``theta <= pi/4``, ``phi = theta``), of
   ``AT(I)`` (``theta <= pi/2``, ``phi = pi/2 - theta``), of ``AT(F(I))`` (``theta <= 3 pi/4``,
   ``phi = theta - pi/2``) or of ``F(I)`` (``phi = pi - theta``). The transformed images are column
   blocks of one product; a back-projected block is transformed back before it is summed.
3. No masks: a sample beyond the image is clamped onto a zero-padded column.

Angles are ``phi = m pi / (2 V)`` with an integer ``m``, so views that share an angle are found
exactly. The row/column stepping choice agrees with the gather path (``|cos| >= |sin|``) except for
floating-point ties, where both are Joseph's method.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from medsr.degrade.ct_projector import balanced_batch

#: Stored weights per sparse matrix (bounds the temporaries to a few hundred MB).
_NNZ_PER_MATRIX = 8_000_000
#: Dense elements per slice batch (images times transforms, or sinograms).
_BATCH_ELEMENTS = 64_000_000


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def _antitranspose(a: np.ndarray) -> np.ndarray:
    return a[..., ::-1, ::-1].swapaxes(-1, -2)


def _mirror(a: np.ndarray) -> np.ndarray:
    return a[..., :, ::-1]


def _antitranspose_mirror(a: np.ndarray) -> np.ndarray:
    return a[..., ::-1, :].swapaxes(-1, -2)  # AT(F(a))


def _mirror_antitranspose(a: np.ndarray) -> np.ndarray:
    return a[..., :, ::-1].swapaxes(-1, -2)  # F(AT(a)), the inverse of AT(F(a))


#: (forward transform of the image, inverse transform of a back-projected block) per symmetry.
_TRANSFORMS: tuple[tuple[Callable[[np.ndarray], np.ndarray], ...], ...] = (
    (_identity, _identity),
    (_antitranspose, _antitranspose),
    (_antitranspose_mirror, _mirror_antitranspose),
    (_mirror, _mirror),
)


def _view_symmetry(v: int, views: int) -> tuple[int, int]:
    """``(transform, m)`` of view ``v``: its projection is the row-stepping one at ``m pi / 2V``."""
    if 4 * v <= views:
        return 0, 2 * v
    if 2 * v <= views:
        return 1, views - 2 * v
    if 4 * v <= 3 * views:
        return 2, 2 * v - views
    return 3, 2 * views - 2 * v


def _families(shape: tuple[int, int], views: int) -> list[tuple[tuple[int, ...], tuple[int, int]]]:
    """Transforms that share one image shape and one angle grid, with that shape."""
    h, w = shape
    if h == w and views % 2 == 0:
        return [((0, 1, 2, 3), (h, w))]
    return [((0, 3), (h, w)), ((1, 2), (w, h))]


def _angle_table(views: int, transforms: tuple[int, ...]) -> dict[int, dict[int, int]]:
    """``m -> {position of the transform in the family: view}`` for the family's views."""
    table: dict[int, dict[int, int]] = {}
    for v in range(views):
        t, m = _view_symmetry(v, views)
        if t in transforms:
            table.setdefault(m, {})[transforms.index(t)] = v
    return table


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _slice_batch(n: int, per_slice: int) -> int:
    """Slices per batch: at most ``_BATCH_ELEMENTS`` dense elements, batches of equal size (a
    small last batch would pay for the interpolation weights alone)."""
    return balanced_batch(n, max(1, _BATCH_ELEMENTS // max(1, per_slice)))


class _Lerp:
    """Linear interpolation as two sparse products, ``value[i0] + frac (value[i0+1] - value[i0])``
    summed over a row's entries; the index ``i0`` and the fraction are all that is stored."""

    def __init__(
        self, crow: torch.Tensor, cols: torch.Tensor, frac: torch.Tensor, size: tuple[int, int]
    ) -> None:
        import warnings

        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            ones = torch.ones_like(frac)
            self.base = torch.sparse_csr_tensor(crow, cols, ones, size=size, check_invariants=False)
            self.slope = torch.sparse_csr_tensor(
                crow, cols, frac, size=size, check_invariants=False
            )

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        diff = torch.zeros_like(x)
        torch.sub(x[1:], x[:-1], out=diff[:-1])
        return torch.addmm(self.base @ x, self.slope, diff)


def _forward_matrix(shape: tuple[int, int], phis: np.ndarray, detectors: int) -> _Lerp:
    """Row-stepping Joseph interpolation (no ``1 / cos`` scale): rows ``(angle, bin)``, columns the
    pixels of the image padded by one zero column on the left and two on the right (stride
    ``W + 3``). Every row reads each image line once; a sample beyond the image is clamped onto the
    zero padding, so no mask is needed.
    """
    h, w = shape
    nd = detectors
    t = torch.arange(nd, dtype=torch.float64) - (nd - 1) / 2.0
    y = (h - 1) / 2.0 - torch.arange(h, dtype=torch.float64)
    c = torch.from_numpy(np.cos(phis))[:, None]
    s = torch.from_numpy(np.sin(phis))[:, None]
    # column (padded by one) where the ray of bin k crosses line l: (t - y sin) / cos + (W - 1) / 2
    along = (t[None, :] / c).to(torch.float32)[:, :, None]
    offset = (-y[None, :] * s / c + (w - 1) / 2.0 + 1.0).to(torch.float32)[:, None, :]
    pos = (along + offset).clamp_(0.0, float(w + 1))  # (angles, nd, h)
    i0 = torch.floor(pos)
    frac = pos.sub_(i0).reshape(-1)
    col = i0.to(torch.int32).add_((torch.arange(h, dtype=torch.int32) * (w + 3))[None, None, :])
    crow = torch.arange(len(phis) * nd + 1, dtype=torch.int32) * h
    return _Lerp(crow, col.reshape(-1), frac, (len(phis) * nd, h * (w + 3)))


def forward_project_sparse(images: np.ndarray, *, views: int, detectors: int) -> np.ndarray:
    """Joseph line integrals of a stack of images (pixel units), as ``forward_project``.

    Shape:
        images: ``(B, H, W)`` -> ``(B, views, detectors)`` float32.
    """
    b_all, h, w = images.shape
    nd = detectors
    out = np.zeros((b_all, views, nd), dtype=np.float32)
    for transforms, (hf, wf) in _families((h, w), views):
        table = _angle_table(views, transforms)
        angles = sorted(table)
        nt = len(transforms)
        per_angle = max(1, _NNZ_PER_MATRIX // (nd * hf))
        batch = _slice_batch(b_all, nt * hf * (wf + 3))
        for b0 in range(0, b_all, batch):
            stack = images[b0 : b0 + batch]
            nb = stack.shape[0]
            dense = np.zeros((hf, wf + 3, nt, nb), dtype=np.float32)
            for ti, t in enumerate(transforms):
                dense[:, 1 : wf + 1, ti] = np.moveaxis(_TRANSFORMS[t][0](stack), 0, -1)
            x = torch.from_numpy(dense.reshape(hf * (wf + 3), nt * nb))
            for chunk in _chunks(angles, per_angle):
                phis = np.asarray(chunk, dtype=np.float64) * math.pi / (2 * views)
                scale = torch.from_numpy(1.0 / np.cos(phis)).to(torch.float32)
                sums = (_forward_matrix((hf, wf), phis, nd) @ x).reshape(len(chunk), nd, nt, nb)
                res = (sums * scale[:, None, None, None]).numpy()
                for q, m in enumerate(chunk):
                    for ti, v in table[m].items():
                        out[b0 : b0 + nb, v] = res[q, :, ti].T
    return out


def _back_matrix(shape: tuple[int, int], phis: np.ndarray, stride: int, pad: int) -> _Lerp:
    """Back-projection interpolation: rows the pixels, columns ``(angle, padded bin)``; each pixel
    reads its projection at ``t = x cos(phi) + y sin(phi)``."""
    h, w = shape
    center = (stride - 2 * pad - 2) / 2.0 + pad  # (nd - 1) / 2 on the padded detector
    y = ((h - 1) / 2.0 - torch.arange(h, dtype=torch.float64))[:, None, None]
    x = (torch.arange(w, dtype=torch.float64) - (w - 1) / 2.0)[None, :, None]
    c = torch.from_numpy(np.cos(phis))[None, None, :]
    s = torch.from_numpy(np.sin(phis))[None, None, :]
    pos = (x * c).to(torch.float32) + (y * s + center).to(torch.float32)  # (h, w, angles)
    i0 = torch.floor(pos)
    frac = pos.sub_(i0).reshape(-1)
    col = i0.to(torch.int32).add_(torch.arange(len(phis), dtype=torch.int32) * stride)
    crow = torch.arange(h * w + 1, dtype=torch.int32) * len(phis)
    return _Lerp(crow, col.reshape(-1), frac, (h * w, len(phis) * stride))


def backproject_sparse(sinogram: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """Back-projection of a stack of (filtered) sinograms, as ``backproject``.

    Shape:
        sinogram: ``(B, views, detectors)`` -> ``(B, H, W)`` float32.
    """
    b_all, views, nd = sinogram.shape
    h, w = shape
    pad = math.ceil(math.hypot(h, w) / 2.0) + 2
    stride = nd + 2 * pad + 1
    out = np.zeros((b_all, h, w), dtype=np.float32)
    for transforms, (hf, wf) in _families((h, w), views):
        table = _angle_table(views, transforms)
        angles = sorted(table)
        nt = len(transforms)
        per_angle = max(1, _NNZ_PER_MATRIX // (hf * wf))
        batch = _slice_batch(b_all, nt * max(hf * wf, per_angle * stride))
        for b0 in range(0, b_all, batch):
            sino = sinogram[b0 : b0 + batch]
            nb = sino.shape[0]
            acc = torch.zeros(hf * wf, nt * nb, dtype=torch.float32)
            for chunk in _chunks(angles, per_angle):
                q_dense = np.zeros((len(chunk), stride, nt, nb), dtype=np.float32)
                for q, m in enumerate(chunk):
                    for ti, v in table[m].items():
                        q_dense[q, pad : pad + nd, ti] = sino[:, v].T
                phis = np.asarray(chunk, dtype=np.float64) * math.pi / (2 * views)
                q_mat = torch.from_numpy(q_dense.reshape(len(chunk) * stride, nt * nb))
                acc += _back_matrix((hf, wf), phis, stride, pad) @ q_mat
            blocks = acc.numpy().reshape(hf, wf, nt, nb)
            for ti, t in enumerate(transforms):
                out[b0 : b0 + nb] += _TRANSFORMS[t][1](np.moveaxis(blocks[:, :, ti], -1, 0))
    out *= math.pi / views
    return out
