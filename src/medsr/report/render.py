"""Image panels with numpy and Pillow: planes, grey windows, error maps, zooms, overlays, PNG.

Every 2D array here is in *display orientation*: row 0 is the top of the picture. Planes of a
canonical RAS+ volume (``D`` superior, ``H`` anterior, ``W`` right) are shown with anterior /
superior up and the remaining axis left to right in index order. Pixel sizes are kept per axis
so that anisotropic voxels are stretched to their physical aspect ratio.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from medsr.report.colormap import apply_colormap

#: Planes of a 3D volume: name -> the spatial axis (0 = D, 1 = H, 2 = W) held fixed.
PLANE_AXES: dict[str, int] = {"axial": 0, "coronal": 1, "sagittal": 2}
#: Outline colour of the zoom region and colour of the profile line (RGB).
ZOOM_COLOR = (0, 229, 255)
LINE_COLOR = (255, 64, 160)


@dataclass(frozen=True)
class Plane:
    """A plane through a volume.

    Attributes:
        name: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        axis: The spatial axis held fixed (0 = D, 1 = H, 2 = W).
        index: The slice index along ``axis``.
        spacing: ``(row, column)`` pixel size in mm, in display orientation.
        flip_rows: Whether rows are reversed so that anterior / superior is up.
    """

    name: str
    axis: int
    index: int
    spacing: tuple[float, float]
    flip_rows: bool


@dataclass(frozen=True)
class Region:
    """A rectangle of a 2D image: rows ``r0:r0+h``, columns ``c0:c0+w``."""

    r0: int
    c0: int
    h: int
    w: int

    @property
    def row(self) -> int:
        """The profile row: the region's middle row."""
        return self.r0 + self.h // 2


def points_up(affine: np.ndarray, axis: int) -> bool:
    """Whether increasing index along ``axis`` moves towards +x/+y/+z (R, A or S) in the world."""
    col = np.asarray(affine, dtype=float)[:3, axis]
    return bool(col[int(np.argmax(np.abs(col)))] > 0)


def make_plane(
    name: str, index: int, spacing: tuple[float, float, float], affine: np.ndarray
) -> Plane:
    """The :class:`Plane` ``name`` at ``index`` of a volume with ``(sd, sh, sw)`` ``spacing``."""
    axis = PLANE_AXES[name]
    rest = [a for a in range(3) if a != axis]
    return Plane(
        name=name,
        axis=axis,
        index=int(index),
        spacing=(float(spacing[rest[0]]), float(spacing[rest[1]])),
        flip_rows=points_up(affine, rest[0]),
    )


def take_plane(volume: np.ndarray, plane: Plane) -> np.ndarray:
    """The ``(rows, cols)`` float32 image of ``plane`` from a ``(D, H, W)`` array."""
    img = np.take(volume, plane.index, axis=plane.axis)
    if plane.flip_rows:
        img = img[::-1]
    return np.ascontiguousarray(img, dtype=np.float32)


def foreground(img: np.ndarray, window: tuple[float, float], modality: str) -> np.ndarray:
    """A cheap foreground mask: above -400 HU for CT, above 10 % of the display window otherwise."""
    lo, hi = window
    threshold = -400.0 if modality == "CT" else lo + 0.1 * (hi - lo)
    return np.asarray(img > threshold)


def display_size(shape: tuple[int, int], spacing: tuple[float, float]) -> tuple[int, int]:
    """Pixel ``(height, width)`` of a panel with the physical aspect ratio of the image.

    The finer axis keeps one pixel per voxel (times an integer factor for small images, so the
    long side reaches 200 px; large images are shrunk to 360 px).
    """
    rows, cols = shape
    pix = min(spacing)
    nat_h, nat_w = rows * spacing[0] / pix, cols * spacing[1] / pix
    longest = max(nat_h, nat_w)
    if longest < 200:
        k = float(math.ceil(200 / longest))
    elif longest > 360:
        k = 360 / longest
    else:
        k = 1.0
    return max(1, round(nat_h * k)), max(1, round(nat_w * k))


def zoom_repeats(
    region: Region, spacing: tuple[float, float], target: int = 220
) -> tuple[int, int]:
    """Integer nearest-neighbour magnification per axis that keeps the physical aspect ratio."""
    pix = min(spacing)
    nat_h, nat_w = region.h * spacing[0] / pix, region.w * spacing[1] / pix
    k = max(1, int(target // max(nat_h, nat_w)))
    return max(1, round(k * spacing[0] / pix)), max(1, round(k * spacing[1] / pix))


def window_to_uint8(img: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Grey levels: ``window[0]`` -> 0, ``window[1]`` -> 255, clipped."""
    lo, hi = float(window[0]), float(window[1])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.clip((np.nan_to_num(img.astype(np.float64)) - lo) * scale, 0, 255)
    return np.asarray(np.round(out), dtype=np.uint8)


def error_to_rgb(err: np.ndarray, vmax: float) -> np.ndarray:
    """Colour-mapped absolute error, 0 -> dark, ``vmax`` and above -> bright (inferno)."""
    return apply_colormap(np.abs(err) / (vmax if vmax > 0 else 1.0))


def _window_sums(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of ``a`` over every ``h x w`` window (valid positions), by an integral image."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.float64)
    s[1:, 1:] = np.cumsum(np.cumsum(a, axis=0), axis=1)
    return np.asarray(s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w])


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` eroded by a ``(2r+1)``-pixel square (outside the image counts as background)."""
    padded = np.pad(mask.astype(np.float64), r)
    k = 2 * r + 1
    return np.asarray(_window_sums(padded, k, k) >= k * k - 0.5)


def choose_region(
    ref: np.ndarray,
    err: np.ndarray,
    fg: np.ndarray,
    spacing: tuple[float, float],
    fraction: float = 0.28,
    max_pixels: int = 64,
) -> Region:
    """The zoom window with the most reference edges and error, inside the foreground.

    Edges and errors count only inside the foreground eroded by 4 % of the image (the
    outline of the body, where everything has its largest error, is not the interesting part).
    The window is square in millimetres: ``fraction`` of the shorter field-of-view side, but
    at most ``max_pixels`` along the finer axis (so the zoom magnifies at least about 3x) and
    at least 6 pixels along the coarser axis; never larger than the image. Its score is the window's share of the total squared reference
    gradient plus its share of the total squared error; windows at least 95 % foreground are
    preferred (then 50 %, then any).

    Args:
        ref: Reference image.
        err: Error image (e.g. the baseline's plus the model's squared error).
        fg: Foreground mask.
        spacing: ``(row, column)`` pixel size in mm.
        fraction: Window side as a fraction of the shorter physical side.
        max_pixels: Largest window side in pixels along the finer axis.

    Returns:
        The chosen :class:`Region` (always inside the image).
    """
    rows, cols = ref.shape
    side_mm = fraction * min(rows * spacing[0], cols * spacing[1])
    side_mm = max(min(side_mm, max_pixels * min(spacing)), 6 * max(spacing))
    h = int(min(rows, max(1, round(side_mm / spacing[0]))))
    w = int(min(cols, max(1, round(side_mm / spacing[1]))))
    r = np.nan_to_num(ref.astype(np.float64))
    gy = np.diff(r, axis=0, append=r[-1:]) / spacing[0]
    gx = np.diff(r, axis=1, append=r[:, -1:]) / spacing[1]
    inner = erode(fg, max(2, round(0.04 * min(rows, cols))))
    if not inner.any():
        inner = fg if fg.any() else np.ones_like(fg)
    grad = (gy**2 + gx**2) * inner
    e = np.nan_to_num(err.astype(np.float64)) ** 2 * inner
    score = _window_sums(grad, h, w) / max(grad.sum(), 1e-30)
    score += _window_sums(e, h, w) / max(e.sum(), 1e-30)
    fg_share = _window_sums(fg.astype(np.float64), h, w) / (h * w)
    for need in (0.95, 0.5, 0.0):
        ok = fg_share >= need - 1e-9
        if ok.any():
            masked = np.where(ok, score, -np.inf)
            r0, c0 = np.unravel_index(int(np.argmax(masked)), masked.shape)
            return Region(int(r0), int(c0), h, w)
    return Region(0, 0, h, w)  # pragma: no cover - the last pass always has a window


def crop(img: np.ndarray, region: Region) -> np.ndarray:
    """``img`` restricted to ``region`` (rows first)."""
    return img[region.r0 : region.r0 + region.h, region.c0 : region.c0 + region.w]


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of a ``uint8`` grey ``(H, W)`` or RGB ``(H, W, 3)`` image to ``(h, w)``."""
    from PIL import Image

    if pixels.shape[:2] == size:
        return pixels
    img = Image.fromarray(pixels)
    return np.asarray(img.resize((size[1], size[0]), Image.Resampling.BICUBIC))


def magnify(pixels: np.ndarray, repeats: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour magnification (each pixel becomes a ``repeats`` block)."""
    return np.repeat(np.repeat(pixels, repeats[0], axis=0), repeats[1], axis=1)


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """A grey ``(H, W)`` image as RGB ``(H, W, 3)``; RGB passes through."""
    return pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)


def draw_overlays(
    pixels: np.ndarray,
    scale: tuple[float, float],
    *,
    region: Region | None = None,
    line: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Outline ``region`` and draw a profile ``line`` ``(row, c0, c1)`` on an RGB image.

    Args:
        pixels: RGB image (already resized).
        scale: Output pixels per image pixel ``(rows, cols)``.
        region: Rectangle to outline, in image pixels.
        line: Profile row and its column range (end exclusive), in image pixels.

    Returns:
        A new RGB array.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(to_rgb(pixels))
    draw = ImageDraw.Draw(img)
    sy, sx = scale
    thick = max(1, round(min(img.size) / 180))
    if line is not None:
        row, c0, c1 = line
        y = (row + 0.5) * sy
        width = max(thick + 1, min(4, math.ceil(sy * 0.75)))
        draw.line([(c0 * sx, y), (c1 * sx - 1, y)], fill=LINE_COLOR, width=width)
    if region is not None:
        box = (
            region.c0 * sx,
            region.r0 * sy,
            (region.c0 + region.w) * sx - 1,
            (region.r0 + region.h) * sy - 1,
        )
        draw.rectangle(box, outline=ZOOM_COLOR, width=thick)
    return np.asarray(img)


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG encoding of a ``uint8`` grey or RGB image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
