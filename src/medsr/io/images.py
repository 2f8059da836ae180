"""2D raster images: PNG / JPEG / TIFF reading (8- and 16-bit grayscale) and PNG writing.

Raster files carry no physical geometry: spacing is 1 mm unless given. Colour images are converted
to luminance (ITU-R 601: ``0.299 R + 0.587 G + 0.114 B``) with a note in ``meta``. Values keep their
stored integer scale (0..255 or 0..65535), as float32.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medsr.conventions import UNIT_ARBITRARY
from medsr.errors import InputError
from medsr.io._common import check_file, check_finite, check_size
from medsr.volume import Volume

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def read_image(
    path: str | os.PathLike[str],
    *,
    spacing: Sequence[float] | None = None,
    modality: str | None = None,
    allow_nonfinite: bool = False,
) -> Volume:
    """Read a PNG, JPEG or TIFF image as a single slice.

    Args:
        path: The image file.
        spacing: ``(sh, sw)`` pixel size in mm; default 1 mm.
        modality: ``"MR"`` (default), ``"CT"`` or ``"XR"``.
        allow_nonfinite: Keep NaN/Inf values (float TIFF).

    Returns:
        A ``(1, 1, H, W)`` float32 volume; ``meta["bit_depth"]`` records the stored depth.

    Raises:
        InputError: For a missing, empty, truncated or non-image file, or a multi-page image.

    Shape:
        array: ``(1, 1, H, W)``.
    """
    from PIL import Image, UnidentifiedImageError

    p = check_file(path)
    notes: dict[str, str] = {}
    try:
        with Image.open(p) as img:
            check_size(p, (img.height, img.width), itemsize=16)
            frames = int(getattr(img, "n_frames", 1))
            if frames > 1:
                raise InputError(p, f"image has {frames} frames/pages; expected one 2D image")
            mode = img.mode
            if mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LA", "PA"):
                rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
                arr = rgb @ _LUMA
                notes["note"] = f"{mode} image converted to luminance (0.299 R + 0.587 G + 0.114 B)"
                depth = 8
            else:
                arr = np.asarray(img)
                depth = arr.dtype.itemsize * 8 if arr.dtype.kind in "iu" else 32
                if mode == "1":
                    depth = 1
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise InputError(p, f"not a readable image ({' '.join(str(exc).split())[:120]})") from None
    if arr.ndim != 2:
        raise InputError(p, f"image has shape {arr.shape}; expected a 2D grayscale image")
    out = arr.astype(np.float32)
    check_finite(out, p, allow_nonfinite=allow_nonfinite)
    sp = (1.0, *(tuple(spacing) if spacing is not None else (1.0, 1.0)))
    meta = {"path": str(p), "reader": "image", "mode": mode, "bit_depth": depth, **notes}
    return Volume.from_array(
        out, spacing=sp, modality=modality or "MR", unit=UNIT_ARBITRARY, meta=meta
    )


def write_png(
    volume: Volume, path: Path, *, bits: int = 8, value_range: Sequence[float] | None = None
) -> None:
    """Write a single-channel 2D volume as a grayscale PNG.

    Values are mapped linearly from ``value_range`` (default: the image's min..max; for data already
    in ``0..2**bits - 1`` integers the values are kept as they are) to ``0..2**bits - 1``.

    Args:
        volume: A ``(1, 1, H, W)`` volume.
        path: Destination ``.png`` (the caller makes it atomic).
        bits: 8 or 16.
        value_range: ``(low, high)`` mapped to black and white.

    Raises:
        InputError: If the volume is not a single 2D slice or is not finite.
        ValueError: For ``bits`` other than 8 or 16 or an empty range.
    """
    from PIL import Image

    if bits not in (8, 16):
        raise ValueError(f"PNG bits must be 8 or 16, got {bits}")
    if volume.channels != 1 or not volume.is_2d:
        raise InputError(path, f"PNG holds one 2D slice; volume has shape {volume.array.shape}")
    a = volume.array[0, 0].astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError(path, "cannot write NaN/Inf to PNG")
    top = 2**bits - 1
    if value_range is None:
        exact = np.array_equal(a, np.round(a)) and a.min() >= 0 and a.max() <= top
        lo, hi = (0.0, float(top)) if exact else (float(a.min()), float(a.max()))
    else:
        lo, hi = (float(v) for v in value_range)
    if hi <= lo:
        hi = lo + 1.0
    scaled = np.clip(np.round((a - lo) / (hi - lo) * top), 0, top)
    dtype = np.uint8 if bits == 8 else np.uint16
    Image.fromarray(scaled.astype(dtype)).save(path, format="PNG")
