"""fastMRI-style HDF5 files.

Layout (fastMRI): ``reconstruction_esc`` (emulated single coil) or ``reconstruction_rss``
(multi-coil root-sum-of-squares), each ``(slices, H, W)`` float; and ``kspace``, complex,
``(slices, H, W)`` single-coil or ``(slices, coils, H, W)`` multi-coil. From ``kspace`` the image is
the root-sum-of-squares over coils of ``|ifft2c(k)|``, where ``ifft2c`` is the centred orthonormal
inverse FFT (``fftshift(ifft2(ifftshift(k)))``) over the last two axes. fastMRI files carry no
usable voxel size in the datasets, so spacing is 1 mm unless given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medsr.conventions import UNIT_ARBITRARY
from medsr.errors import InputError
from medsr.io._common import check_file, check_finite, check_size
from medsr.volume import Volume

KEYS = ("reconstruction_esc", "reconstruction_rss", "kspace")


def rss_from_kspace(kspace: np.ndarray) -> np.ndarray:
    """Root-sum-of-squares image of centred k-space.

    Args:
        kspace: Complex ``(slices, H, W)`` (one coil) or ``(slices, coils, H, W)``.

    Returns:
        Float32 magnitude image.

    Shape:
        output: ``(slices, H, W)``.
    """
    axes = (-2, -1)
    img = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(kspace, axes=axes), norm="ortho"), axes=axes
    )
    mag = np.abs(img)
    if kspace.ndim == 4:
        mag = np.sqrt(np.sum(mag**2, axis=1))
    return mag.astype(np.float32)


def _dataset(f: Any, key: str, p: Path) -> Any:
    ds = f.get(key)
    if ds is None or not hasattr(ds, "shape"):
        raise InputError(p, f"HDF5 file has no dataset {key!r} (found {sorted(f.keys())})")
    return ds


def read_fastmri(
    path: str | os.PathLike[str],
    *,
    key: str | None = None,
    spacing: Sequence[float] | None = None,
    allow_nonfinite: bool = False,
) -> Volume:
    """Read a fastMRI-style HDF5 file as an MR magnitude volume.

    Args:
        path: ``.h5`` / ``.hdf5`` file.
        key: ``"reconstruction_esc"``, ``"reconstruction_rss"`` or ``"kspace"``; default: the
            reconstruction present (esc before rss), else ``kspace``.
        spacing: ``(sd, sh, sw)`` mm; default 1 mm.
        allow_nonfinite: Keep NaN/Inf values.

    Returns:
        Float32 MR volume; ``meta["key"]`` says which dataset was used.

    Raises:
        InputError: For an unreadable file, a missing key or a dataset of the wrong rank or type.

    Shape:
        array: ``(1, slices, H, W)``.
    """
    import h5py

    p = check_file(path)
    if key is not None and key not in KEYS:
        raise InputError(p, f"unknown fastMRI key {key!r}; choose one of {list(KEYS)}")
    try:
        with h5py.File(p, "r") as f:
            if key is None:
                key = next((k for k in KEYS if k in f), None)
                if key is None:
                    raise InputError(
                        p, f"no fastMRI dataset {list(KEYS)} (found {sorted(f.keys())})"
                    )
            ds = _dataset(f, key, p)
            layout = "(slices, [coils,] H, W)" if key == "kspace" else "(slices, H, W)"
            if ds.ndim not in ((3, 4) if key == "kspace" else (3,)):
                raise InputError(p, f"{key} has shape {ds.shape}; expected {layout}")
            check_size(p, tuple(int(n) for n in ds.shape), itemsize=16 if key == "kspace" else 4)
            data = ds[()]
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
    except OSError as exc:
        raise InputError(
            p, f"not a readable HDF5 file ({' '.join(str(exc).split())[:120]})"
        ) from None
    if key == "kspace":
        if not np.iscomplexobj(data):
            raise InputError(p, f"kspace has dtype {data.dtype}; expected complex")
        arr = rss_from_kspace(data)
    else:
        if data.dtype.kind not in "iuf":
            raise InputError(p, f"{key} has dtype {data.dtype}; expected real magnitude")
        arr = data.astype(np.float32)
    check_finite(arr, p, allow_nonfinite=allow_nonfinite)
    sp = tuple(spacing) if spacing is not None else (1.0, 1.0, 1.0)
    meta: dict[str, Any] = {"path": str(p), "reader": "fastmri_hdf5", "key": key}
    meta.update({f"attr_{k}": v for k, v in attrs.items() if isinstance(v, int | float | str)})
    if spacing is None:
        meta["note"] = "fastMRI datasets carry no voxel size: 1 mm spacing assumed"
    return Volume.from_array(arr, spacing=sp, modality="MR", unit=UNIT_ARBITRARY, meta=meta)
