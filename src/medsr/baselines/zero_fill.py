"""Zero-filled k-space reconstruction: upsampling by zero-padding the centred spectrum.

A true low-resolution grid of ``n`` voxels is refined to ``n * s`` voxels by placing its DFT
in the centre of a longer, otherwise zero, spectrum and inverting (periodic sinc
interpolation). Two details make it consistent with medsr's geometry and with real images:

* new voxel ``j`` must sample old position ``(j + 0.5) / s - 0.5`` (the field of view is kept),
  not ``j / s``; each frequency ``k`` is therefore multiplied by ``exp(2 pi i k d / n)`` with the
  sub-voxel shift ``d = (1 - s) / (2 s)``;
* for even ``n`` the Nyquist coefficient is split evenly between ``+n/2`` and ``-n/2`` so that
  a real input gives a real output (the interpolant is the real trigonometric polynomial).

The result is multiplied by ``s`` per axis so intensities keep their scale (a constant stays
the same constant). This is the inverse of keeping the central ``1/s`` of k-space on the same
field of view; ``medsr.degrade`` simulates that truncation.
"""

from __future__ import annotations

import numpy as np

from medsr.conventions import normalize_scale


def _zero_fill_last(x: np.ndarray, s: int) -> np.ndarray:
    n = x.shape[-1]
    big = n * s
    spec = np.fft.fft(x, axis=-1)
    k = np.fft.fftfreq(n, d=1.0 / n)  # signed integer frequencies, -n/2 for even n
    shift = (1.0 - s) / (2.0 * s)
    out = np.zeros((*x.shape[:-1], big), dtype=np.complex128)
    weights = np.ones(n)
    if n % 2 == 0:
        weights[n // 2] = 0.5  # half of the Nyquist term goes to each side
    phase = np.exp(2j * np.pi * k * shift / n)
    out[..., np.mod(k, big).astype(np.int64)] += spec * (weights * phase)
    if n % 2 == 0:
        nyq = n // 2
        out[..., nyq] += spec[..., nyq] * 0.5 * np.exp(2j * np.pi * nyq * shift / n)
    return np.fft.ifft(out, axis=-1) * s


def zero_fill_upsample(x: np.ndarray, *, scale: int | tuple[int, ...]) -> np.ndarray:
    """Refine a 2D or 3D image by zero-padding its centred k-space on each scaled axis.

    Args:
        x: Real or complex ``(H, W)`` or ``(D, H, W)`` image on a true low-resolution grid.
        scale: One integer factor for all axes or one per axis (1 leaves an axis unchanged).

    Returns:
        The refined image: real float64 for a real input, complex128 for a complex one.

    Raises:
        ValueError: On a bad dimension or scale.

    Shape:
        x: ``(*S)``; output: ``(*(S_i * s_i))``.
    """
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        raise ValueError(f"zero_fill_upsample expects a 2D or 3D array, got shape {arr.shape}")
    factors = normalize_scale(scale, arr.ndim)
    out = arr.astype(np.complex128)
    for axis, s in enumerate(factors):
        if s == 1:
            continue
        out = np.moveaxis(_zero_fill_last(np.moveaxis(out, axis, -1), s), -1, axis)
    if np.iscomplexobj(arr):
        return out
    return np.ascontiguousarray(out.real)
