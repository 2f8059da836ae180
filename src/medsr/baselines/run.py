"""Apply a registered baseline to a :class:`~medsr.data.Volume`, keeping its geometry right."""

from __future__ import annotations

import numpy as np

from medsr.conventions import Scale, normalize_scale
from medsr.errors import ConfigError, InputError
from medsr.volume import Volume


def volume_scale(volume: Volume, scale: Scale) -> tuple[int, int, int]:
    """Per-axis ``(sd, sh, sw)`` factors; an int scales H and W only when the volume is 2D.

    Raises:
        ConfigError: On a malformed scale or a factor on the slice axis of a 2D volume.
    """
    if isinstance(scale, int) and volume.is_2d:
        scale = (1, scale, scale)
    try:
        factors = normalize_scale(scale, 3)
    except ValueError as exc:
        raise ConfigError(f"{exc} (order: D, H, W)") from None
    if volume.is_2d and factors[0] != 1:
        raise ConfigError(f"a 2D image cannot be refined along D; got scale {factors}")
    return factors  # type: ignore[return-value]


def run_baseline(
    name: str, volume: Volume, *, scale: Scale = 1, sigma: float | None = None
) -> Volume:
    """Apply the baseline ``name`` to every channel of ``volume``.

    Upsampling baselines refine the grid by ``scale`` over the same field of view (spacing
    divided by the factors, FOV edges kept, via :meth:`Volume.regrid`); denoisers keep the grid.
    Denoisers driven by a noise level use ``sigma`` or, without it, their estimate on each
    channel; ``meta["baseline"]`` then records ``sigma`` (one value per channel) and
    ``sigma_source`` (``"given"`` or ``"estimated"``). The output is float32.

    Args:
        name: Registry key in :data:`medsr.baselines.BASELINES`.
        volume: Input volume.
        scale: Integer factor(s) in ``(D, H, W)`` order; denoisers need 1.
        sigma: Noise standard deviation in the volume's units (HU for CT), for the denoisers
            that take one (``nlm``, ``bilateral``, ``bm3d``).

    Returns:
        The baseline's output volume.

    Raises:
        ConfigError: On an unknown name, a scale the baseline cannot take, a sigma for a
            baseline that takes none, or a negative sigma.
        MissingDependencyError: If the baseline needs scikit-image and it is missing.

    Shape:
        volume.array: ``(C, D, H, W)``; output: ``(C, D * sd, H * sh, W * sw)``.
    """
    from medsr.baselines import BASELINES

    try:
        baseline = BASELINES.get(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    factors = volume_scale(volume, scale)
    record: dict[str, object] = {"name": name, "scale": list(factors)}
    meta = {**volume.meta, "baseline": record}
    if sigma is not None and baseline.noise is None:
        raise ConfigError(f"baseline {name!r} takes no noise sigma")
    if sigma is not None and not sigma >= 0:
        raise ConfigError(f"sigma must be >= 0 (the input's units), got {sigma}")
    if baseline.task == "denoise":
        if factors != (1, 1, 1):
            raise ConfigError(f"baseline {name!r} denoises on the same grid; it takes no scale")
        if baseline.noise is None:
            out = np.stack([baseline.fn(c) for c in volume.array]).astype(np.float32)
            return volume.with_array(out, meta=meta)
        try:
            sigmas = [
                float(sigma) if sigma is not None else baseline.noise(c) for c in volume.array
            ]
        except ValueError as exc:
            raise InputError(
                str(volume.meta.get("path", "input")), f"noise estimate: {exc}"
            ) from None
        record.update(sigma=sigmas, sigma_source="given" if sigma is not None else "estimated")
        outs = [baseline.fn(c, sigma=s) for c, s in zip(volume.array, sigmas)]
        return volume.with_array(np.stack(outs).astype(np.float32), meta=meta)
    out = np.stack([baseline.fn(c, scale=factors) for c in volume.array]).astype(np.float32)
    return volume.regrid(out, meta=meta)
