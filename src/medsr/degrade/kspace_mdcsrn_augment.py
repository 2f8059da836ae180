"""The five k-space augmentations of the mDCSRN slides ("Data Augmentation"), and a per-patch choice.

The slide lists, in shorthand: (1) ``A*fft + (1-A)*fftshift``, zeroing 20; (2) ``fft`` + Gaussian
filter, zeroing 20; (3) ``fftn + fftshift``; (4) ``fftshift + fftn + fftshift``; (5) as (1), zeroing
160. How we read it (``docs/degradations.md`` has the argument in full):

* **Zeroing ``z``** sets ``z`` lines of k-space to zero along each truncated axis, ``z // 2`` at the
  start of the array and the rest at its end, the way the reproductions' scripts zero the array edges.
  ``z`` counts both edges together: on the 320-line in-plane axes of the HCP T1 scans behind mDCSRN,
  zeroing 160 per edge would zero everything, while 160 in total keeps half the lines, the paper's
  factor 2. The counts are for those 320 lines (``reference_lines``) and scale with the axis length
  ``N`` (``z_N = round(z N / 320)``), so a 64-line patch loses the same fraction of its spectrum as a
  whole scan; ``reference_lines=None`` takes ``z`` as an absolute count.
* **``fft`` versus ``fftshift``** says where the zeroed edges fall. In the unshifted ``fftn`` layout
  DC sits at index 0, so the array edges are the *lowest* frequencies and zeroing them removes the
  image's smooth content (a high-pass); after ``fftshift`` DC sits in the middle, the edges are the
  *highest* frequencies and zeroing them is the usual low-pass truncation. Each spectrum is brought
  back in its own layout, so the output stays registered with the input.
* **(1)** blends the two: ``A`` times the high-pass truncation plus ``1 - A`` times the low-pass
  one, ``A ~ U(blend_low, blend_high)`` per call. By linearity that is one k-space weight,
  ``A M_fft + (1 - A) M_shift``. **(5)** is (1) with ``z = 160``: there the two masks are complementary
  (the low half and the high half of the lines), so ``A`` trades low for high frequencies.
* **(2)** is the unshifted zeroing (low frequencies removed) times a Gaussian k-space filter
  ``exp(-(k / N)^2 / (2 sigma^2))`` centred on DC, ``sigma ~ U(sigma_low, sigma_high)`` per call. The
  filter equals a circular Gaussian blur of ``1 / (2 pi sigma)`` voxels, so it reads the same whether
  the slide's "Gaussian filter" acted in k-space or on the image.
* **(3)** is the centred transform with the low-pass zeroing: the standard truncation.
  **(4)** also centres the image before the transform (MATLAB's centred DFT) and undoes both shifts
  after it. Zeroing ignores phase, so (4) equals (3) for every axis length (up to rounding); both are
  kept because the slide lists both. Neither names a count, so both default to (1)'s ``z = 20``.

The transforms run along the truncated axes only (``axes``; by default the last two spatial axes, the
in-plane ``H, W`` of a ``(D, H, W)`` volume, as the paper's 2x2 truncation and the reproductions' scripts
do); the other axes are untouched by every step, so this equals the slide's ``fftn`` over all axes.
Outputs are magnitudes (float32), like :func:`~medsr.degrade.kspace.truncate_kspace`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medsr.degrade._common import check_rng, check_spatial, spatial_axes
from medsr.degrade.kspace_augment import draw_uniform
from medsr.errors import ConfigError

#: In-plane lines of the HCP T1 scans (320 x 320 x 256, 0.7 mm) the slide's counts refer to.
REFERENCE_LINES = 320
#: The five augmentations, in the slide's order (the default choices of :func:`kspace_aug_choice`).
SLIDE_AUGMENTATIONS: tuple[str, ...] = (
    "kspace_aug1_blend",
    "kspace_aug2_gaussian",
    "kspace_aug3_shift",
    "kspace_aug4_centred",
    "kspace_aug5_blend160",
)


def zeroed_lines(n: int, *, zero_lines: float, reference_lines: int | None) -> int:
    """Lines zeroed on an axis of ``n`` samples (both edges together).

    Args:
        n: Samples on the axis.
        zero_lines: The slide's count ``z`` (for ``reference_lines`` samples), ``>= 0``.
        reference_lines: Axis length ``z`` refers to; None takes ``z`` as an absolute count.

    Returns:
        ``round(z n / reference_lines)`` (round half up), or ``z`` itself.

    Raises:
        ConfigError: For a negative count, a bad reference, or a count that leaves no line.
    """
    if not zero_lines >= 0:
        raise ConfigError(f"zero_lines must be >= 0, got {zero_lines!r}")
    if reference_lines is None:
        if zero_lines != int(zero_lines):
            raise ConfigError(
                f"zero_lines must be an integer count without reference_lines, got {zero_lines!r}"
            )
        z = int(zero_lines)
    else:
        if reference_lines < 1:
            raise ConfigError(f"reference_lines must be >= 1 (or null), got {reference_lines!r}")
        z = math.floor(zero_lines * n / reference_lines + 0.5)
    if z >= n:
        raise ConfigError(
            f"zeroing {z} of {n} k-space lines leaves none; lower zero_lines (or raise reference_lines)"
        )
    return z


def edge_mask(n: int, z: int) -> np.ndarray:
    """``(n,)`` float64 mask that zeroes ``z // 2`` entries at the start and ``z - z // 2`` at the end."""
    mask = np.ones(n)
    start = z // 2
    mask[:start] = 0.0
    mask[n - (z - start) :] = 0.0
    return mask


def _axes(spatial_dims: int, axes: Sequence[int] | None) -> tuple[int, ...]:
    if axes is None:
        return (spatial_dims - 2, spatial_dims - 1)
    chosen = tuple(int(a) for a in axes)
    if (
        not chosen
        or len(set(chosen)) != len(chosen)
        or any(not 0 <= a < spatial_dims for a in chosen)
    ):
        raise ConfigError(
            f"axes must be distinct spatial axis indices in [0, {spatial_dims - 1}], got {axes!r}"
        )
    return chosen


def _masks(
    a: np.ndarray,
    spatial_dims: int,
    axes: Sequence[int] | None,
    zero_lines: float,
    reference: int | None,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(array axis, unshifted-layout mask, centred-layout mask in numpy order)`` per truncated axis."""
    spatial = spatial_axes(a.ndim, spatial_dims)
    out = []
    for i in _axes(spatial_dims, axes):
        ax = spatial[i]
        n = a.shape[ax]
        mask = edge_mask(n, zeroed_lines(n, zero_lines=zero_lines, reference_lines=reference))
        out.append((ax, mask, np.fft.ifftshift(mask)))
    return out


def _along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _apply(a: np.ndarray, axes: list[int], weight: np.ndarray, magnitude: bool) -> np.ndarray:
    spec = np.fft.fftn(a.astype(np.float64), axes=axes) * weight
    img = np.fft.ifftn(spec, axes=axes)
    out = np.abs(img) if magnitude else np.real(img)
    return np.ascontiguousarray(out, dtype=np.float32)


def _product(
    masks: list[tuple[int, np.ndarray, np.ndarray]], *, centred: bool, ndim: int
) -> np.ndarray:
    """Separable weight of the unshifted-layout masks, or of the centred-layout ones."""
    w: np.ndarray = np.ones([1] * ndim)
    for axis, unshifted, shifted in masks:
        w = w * _along(shifted if centred else unshifted, axis, ndim)
    return w


def kspace_aug1_blend(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    zero_lines: float = 20,
    reference_lines: int | None = REFERENCE_LINES,
    axes: Sequence[int] | None = None,
    blend_low: float = 0.0,
    blend_high: float = 1.0,
    magnitude: bool = True,
) -> np.ndarray:
    """Slide augmentation (1): ``A`` x unshifted zeroing + ``(1 - A)`` x centred zeroing.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for ``A``.
        spatial_dims: 2 or 3.
        zero_lines: Lines zeroed per truncated axis, both edges together, for ``reference_lines``.
        reference_lines: Axis length ``zero_lines`` refers to (None: absolute counts).
        axes: Truncated spatial axes (indices into the spatial axes); default the last two.
        blend_low: Lower bound of ``A``, in ``[0, 1]``.
        blend_high: Upper bound of ``A``, in ``[blend_low, 1]``.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad counts, axes, blend bounds or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    check_rng(rng)
    if not 0.0 <= blend_low <= blend_high <= 1.0:
        raise ConfigError(
            f"need 0 <= blend_low <= blend_high <= 1, got {blend_low!r}, {blend_high!r}"
        )
    a = check_spatial(x, spatial_dims=spatial_dims)
    masks = _masks(a, spatial_dims, axes, zero_lines, reference_lines)
    (blend,) = draw_uniform(rng, low=(blend_low,), high=(blend_high,), shared=True)
    high = _product(masks, centred=False, ndim=a.ndim)  # the zeroed edges are low frequencies
    low = _product(masks, centred=True, ndim=a.ndim)  # the zeroed edges are high frequencies
    weight = blend * high + (1.0 - blend) * low
    return _apply(a, [m[0] for m in masks], weight, magnitude)


def kspace_aug2_gaussian(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    zero_lines: float = 20,
    reference_lines: int | None = REFERENCE_LINES,
    axes: Sequence[int] | None = None,
    sigma_low: float = 0.125,
    sigma_high: float = 0.25,
    magnitude: bool = True,
) -> np.ndarray:
    """Slide augmentation (2): unshifted zeroing times a Gaussian k-space filter.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for ``sigma``.
        spatial_dims: 2 or 3.
        zero_lines: See :func:`kspace_aug1_blend`.
        reference_lines: See :func:`kspace_aug1_blend`.
        axes: See :func:`kspace_aug1_blend`; the filter acts along the same axes.
        sigma_low: Lower bound of ``sigma`` (fraction of the k-space extent), ``> 0``.
        sigma_high: Upper bound of ``sigma``; ``inf`` with ``inf`` low skips the filter.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad counts, axes, sigma bounds or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    check_rng(rng)
    if not 0.0 < sigma_low <= sigma_high:
        raise ConfigError(f"need 0 < sigma_low <= sigma_high, got {sigma_low!r}, {sigma_high!r}")
    a = check_spatial(x, spatial_dims=spatial_dims)
    masks = _masks(a, spatial_dims, axes, zero_lines, reference_lines)
    (sigma,) = draw_uniform(rng, low=(sigma_low,), high=(sigma_high,), shared=True)
    weight = _product(masks, centred=False, ndim=a.ndim)
    if not math.isinf(sigma):
        for ax, mask, _ in masks:
            k = np.fft.fftfreq(mask.shape[0])  # k / N
            weight = weight * _along(np.exp(-0.5 * (k / sigma) ** 2), ax, a.ndim)
    return _apply(a, [m[0] for m in masks], weight, magnitude)


def kspace_aug3_shift(
    x: np.ndarray,
    *,
    spatial_dims: int,
    zero_lines: float = 20,
    reference_lines: int | None = REFERENCE_LINES,
    axes: Sequence[int] | None = None,
    magnitude: bool = True,
) -> np.ndarray:
    """Slide augmentation (3): ``fftshift(fftn(x))``, zero the edges, invert (a low-pass truncation).

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        zero_lines: See :func:`kspace_aug1_blend`.
        reference_lines: See :func:`kspace_aug1_blend`.
        axes: See :func:`kspace_aug1_blend`.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad counts, axes or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    masks = _masks(a, spatial_dims, axes, zero_lines, reference_lines)
    return _apply(a, [m[0] for m in masks], _product(masks, centred=True, ndim=a.ndim), magnitude)


def kspace_aug4_centred(
    x: np.ndarray,
    *,
    spatial_dims: int,
    zero_lines: float = 20,
    reference_lines: int | None = REFERENCE_LINES,
    axes: Sequence[int] | None = None,
    magnitude: bool = True,
) -> np.ndarray:
    """Slide augmentation (4): ``fftshift(fftn(fftshift(x)))``, zero the edges, invert both shifts.

    Computed literally (image shift, transform, spectrum shift, zeroing, and the inverse chain); it
    equals :func:`kspace_aug3_shift` up to rounding (module docstring).

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        spatial_dims: 2 or 3.
        zero_lines: See :func:`kspace_aug1_blend`.
        reference_lines: See :func:`kspace_aug1_blend`.
        axes: See :func:`kspace_aug1_blend`.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad counts, axes or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    a = check_spatial(x, spatial_dims=spatial_dims)
    masks = _masks(a, spatial_dims, axes, zero_lines, reference_lines)
    ax = [m[0] for m in masks]
    spec = np.fft.fftshift(
        np.fft.fftn(np.fft.fftshift(a.astype(np.float64), axes=ax), axes=ax), axes=ax
    )
    for axis, mask, _ in masks:
        spec = spec * _along(mask, axis, a.ndim)  # the edges of the centred array
    img = np.fft.ifftshift(np.fft.ifftn(np.fft.ifftshift(spec, axes=ax), axes=ax), axes=ax)
    out = np.abs(img) if magnitude else np.real(img)
    return np.ascontiguousarray(out, dtype=np.float32)


def kspace_aug5_blend160(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    zero_lines: float = 160,
    reference_lines: int | None = REFERENCE_LINES,
    axes: Sequence[int] | None = None,
    blend_low: float = 0.0,
    blend_high: float = 1.0,
    magnitude: bool = True,
) -> np.ndarray:
    """Slide augmentation (5): :func:`kspace_aug1_blend` zeroing 160 lines (half of 320).

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for ``A``.
        spatial_dims: 2 or 3.
        zero_lines: See :func:`kspace_aug1_blend`.
        reference_lines: See :func:`kspace_aug1_blend`.
        axes: See :func:`kspace_aug1_blend`.
        blend_low: See :func:`kspace_aug1_blend`.
        blend_high: See :func:`kspace_aug1_blend`.
        magnitude: Return the magnitude; False returns the real part.

    Returns:
        Float32 array of the input shape.

    Raises:
        ConfigError: For bad counts, axes, blend bounds or arrays.

    Shape:
        x: ``(..., *spatial)``.
    """
    return kspace_aug1_blend(
        x,
        rng=rng,
        spatial_dims=spatial_dims,
        zero_lines=zero_lines,
        reference_lines=reference_lines,
        axes=axes,
        blend_low=blend_low,
        blend_high=blend_high,
        magnitude=magnitude,
    )


def _choice(item: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, Mapping) and "name" in item and set(item) <= {"name", "kwargs"}:
        return str(item["name"]), dict(item.get("kwargs") or {})
    raise ConfigError(f"a choice is a degradation name or {{name, kwargs}}, got {item!r}")


def check_choices(
    choices: Sequence[str | Mapping[str, Any]], weights: Sequence[float] | None
) -> None:
    """Validate :func:`kspace_aug_choice` arguments (names, keyword arguments, weights).

    Raises:
        ConfigError: With the offending choice and the fix.
    """
    from medsr.degrade import DEGRADATIONS

    if isinstance(choices, str) or not choices:
        raise ConfigError(f"choices must be a non-empty list of degradations, got {choices!r}")
    for item in choices:
        name, kwargs = _choice(item)
        if name == "kspace_aug_choice":
            raise ConfigError("kspace_aug_choice cannot choose itself")
        try:
            fn = DEGRADATIONS.get(name)
        except KeyError as exc:
            raise ConfigError(f"choices: {exc.args[0]}") from None
        if "rng" in kwargs or "spatial_dims" in kwargs:
            raise ConfigError(
                f"choice {name!r}: leave out rng and spatial_dims; kspace_aug_choice passes them"
            )
        try:
            inspect.signature(fn).bind_partial(None, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"choice {name!r}: {exc}") from None
    if weights is not None and (
        len(weights) != len(choices) or any(not w >= 0 for w in weights) or not sum(weights) > 0
    ):
        raise ConfigError(
            f"weights needs {len(choices)} non-negative values with a positive sum, got {weights!r}"
        )


def kspace_aug_choice(
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    spatial_dims: int,
    choices: Sequence[str | Mapping[str, Any]] = SLIDE_AUGMENTATIONS,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Apply one degradation drawn from ``choices`` (the slide's five by default).

    With ``data.degradation.level: sample`` every training patch gets its own draw (per patch);
    with ``level: volume`` every cached realization does.

    Args:
        x: Real array; the last ``spatial_dims`` axes are spatial.
        rng: Generator for the choice; the chosen function gets an independent child of it.
        spatial_dims: 2 or 3, passed to the chosen function.
        choices: Registered degradation names, or ``{name, kwargs}`` mappings.
        weights: Relative probabilities (default: uniform).

    Returns:
        The chosen degradation's output.

    Raises:
        ConfigError: For bad choices or weights.

    Shape:
        x: ``(..., *spatial)``.
    """
    from medsr.degrade import DEGRADATIONS
    from medsr.degrade.pipeline import child_generators

    check_rng(rng)
    check_choices(choices, weights)
    p = None if weights is None else np.asarray(weights, dtype=np.float64) / float(sum(weights))
    index = int(rng.choice(len(choices), p=p))
    (child,) = child_generators(rng, 1)
    name, kwargs = _choice(choices[index])
    fn = DEGRADATIONS.get(name)
    params = inspect.signature(fn).parameters
    if "rng" in params:
        kwargs["rng"] = child
    if "spatial_dims" in params:
        kwargs["spatial_dims"] = spatial_dims
    return np.asarray(fn(x, **kwargs), dtype=np.float32)


def check_choice_stage(**kwargs: Any) -> None:
    """Load-time check of a ``kspace_aug_choice`` pipeline stage (see :func:`check_choices`)."""
    check_choices(kwargs.get("choices", SLIDE_AUGMENTATIONS), kwargs.get("weights"))
