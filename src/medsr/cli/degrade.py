"""``medsr degrade IN -o OUT --kind KIND [parameters] --seed N``: degrade a volume, keep its geometry."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medsr.cli._args import add_slice_tolerance
from medsr.degrade_names import ALIASES, VOLUME_LEVEL, is_volume_kind

HELP = "degrade a volume (k-space truncation, downsampling, noise, low-dose CT) with a JSON record"


class _Kinds(tuple[str, ...]):
    """``--kind`` choices: ``--help`` and the invalid-choice error list the canonical names
    (:data:`medsr.degrade_names.VOLUME_LEVEL`); the aliases are accepted too."""

    def __contains__(self, value: object) -> bool:
        return is_volume_kind(value)


#: Parameter flags (their dests): a flag applies to the kinds whose function takes its parameter
#: (``medsr.degrade.apply.kind_parameters``); ``--method`` only to the alias ``downsample``.
_DESTS: tuple[str, ...] = (
    "factor",
    "edge_divisor",
    "keep_shape",
    "window",
    "tukey_alpha",
    "method",
    "remainder",
    "offset",
    "thickness",
    "spacing",
    "axis",
    "profile",
    "sigma",
    "gain",
    "dose",
    "i0",
    "sigma_e",
    "views",
    "detectors",
    "filter",
    "ct_mode",
    "min_count",
)

#: Flag dest -> library parameter where the two are spelled differently.
_PARAMETER: dict[str, str] = {
    "thickness": "thickness_mm",
    "spacing": "spacing_mm",
    "ct_mode": "mode",
}

#: Flags a kind cannot do without (one of each tuple), by canonical name.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "kspace_truncate": ("factor",),
    "kspace_truncate_zero_edges": ("edge_divisor",),
    "kspace_gaussian": ("sigma",),
    "downsample_area": ("factor",),
    "downsample_bicubic": ("factor",),
    "decimate": ("factor",),
    "slice_thickness": ("thickness",),
    "gaussian_noise": ("sigma",),
    "rician_noise": ("sigma",),
    "poisson_gaussian_noise": ("gain",),
}

_INTEGER_FACTOR_KINDS = ("downsample_area", "downsample_bicubic", "decimate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``degrade`` arguments (parameters default to the library's defaults)."""
    parser.add_argument("input", metavar="IN", help="input volume (NIfTI, DICOM, NPY, ...)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output (.nii.gz, .npy, ...)"
    )
    parser.add_argument(
        "--kind",
        choices=_Kinds(VOLUME_LEVEL),
        metavar="KIND",
        help=f"which degradation: {', '.join(VOLUME_LEVEL)} (the names configs and checkpoints "
        f"record); the older spellings {', '.join(ALIASES)} and hyphens for underscores also work",
    )
    parser.add_argument(
        "--like",
        metavar="MODEL",
        help="the degradation a model was trained with (bundled name or checkpoint), instead of "
        "--kind; flags of its kind override the model's values",
    )
    add_slice_tolerance(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random generator (default 0)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output and sidecar"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (lowdose_ct shows one on stderr when it is a terminal)",
    )
    g = parser.add_argument_group(
        "k-space (kspace_truncate, kspace_truncate_zero_edges, kspace_gaussian)"
    )
    g.add_argument(
        "--factor",
        nargs="+",
        type=float,
        metavar="F",
        help="per-axis factor, 1 or 3 values (D H W)",
    )
    g.add_argument(
        "--edge-divisor",
        nargs="+",
        type=float,
        metavar="E",
        help="kspace_truncate_zero_edges: zero round(N/E) lines per edge ('inf' = untouched)",
    )
    g.add_argument(
        "--keep-shape",
        action="store_true",
        default=None,
        help="zero-filled on the same grid (mDCSRN input)",
    )
    g.add_argument(
        "--window", choices=("none", "hamming", "tukey"), help="window over the kept band"
    )
    g.add_argument("--tukey-alpha", type=float, help="Tukey taper fraction in [0, 1]")
    g = parser.add_argument_group(
        "resampling (downsample_area, downsample_bicubic, decimate, slice_thickness)"
    )
    g.add_argument(
        "--method",
        choices=("area", "bicubic"),
        help="downsampler of the older --kind downsample (downsample_area, downsample_bicubic)",
    )
    g.add_argument("--remainder", choices=("crop", "pad"), help="axes not divisible by the factor")
    g.add_argument(
        "--offset", nargs="+", type=int, metavar="O", help="first kept voxel per axis (decimate)"
    )
    g.add_argument("--thickness", type=float, metavar="MM", help="slice profile FWHM / width in mm")
    g.add_argument(
        "--spacing", type=float, metavar="MM", help="new slice spacing in mm (slice_thickness)"
    )
    g.add_argument(
        "--axis", type=int, choices=(0, 1, 2), help="slice axis: 0 D, 1 H, 2 W (slice_thickness)"
    )
    g.add_argument(
        "--profile", choices=("gaussian", "boxcar"), help="slice profile (slice_thickness)"
    )
    g = parser.add_argument_group(
        "noise (gaussian_noise, rician_noise, poisson_gaussian_noise, kspace_gaussian)"
    )
    g.add_argument(
        "--sigma", type=float, help="noise std in intensity units; k-space Gaussian width"
    )
    g.add_argument("--gain", type=float, help="intensity per photon count (poisson_gaussian_noise)")
    g = parser.add_argument_group("low-dose CT (lowdose_ct; input in HU)")
    g.add_argument("--dose", type=float, help="dose fraction, 0.25 = quarter dose (default 0.25)")
    g.add_argument("--i0", type=float, help="photons per ray at full dose (default 1e5)")
    g.add_argument("--sigma-e", type=float, help="electronic noise std in counts (default 0)")
    g.add_argument(
        "--views",
        type=int,
        help="projection angles over 180 degrees (default 360, as dfgan-ct-qd was trained)",
    )
    g.add_argument("--detectors", type=int, help="detector bins (default: cover the diagonal)")
    g.add_argument("--filter", choices=("ramp", "shepp-logan", "cosine", "hann"), help="FBP filter")
    g.add_argument(
        "--ct-mode",
        choices=("inject", "reconstruct"),
        help="add noise to the original (default) or reconstruct",
    )
    g.add_argument("--min-count", type=float, help="clamp counts to at least this before the log")


def collect_parameters(
    args: argparse.Namespace, kind: str, *, required: bool = True
) -> tuple[str, dict[str, Any]]:
    """The canonical name of ``kind`` and the library parameters given on the command line.

    Args:
        args: The parsed arguments.
        kind: A canonical name or an alias (``kspace`` and ``downsample`` resolve by their flags,
            :func:`medsr.degrade_names.resolve`).
        required: Refuse a kind's missing required flag (off when a model supplies the values).

    Raises:
        ConfigError: For a flag that does not apply to the kind, or a missing required one.
    """
    from medsr.degrade.apply import kind_parameters
    from medsr.degrade_names import resolve
    from medsr.errors import ConfigError

    given = [dest for dest in _DESTS if getattr(args, dest, None) is not None]
    raw: dict[str, Any] = {}
    for dest in given:
        value = getattr(args, dest)
        if isinstance(value, list):
            if len(value) not in (1, 3):
                raise ConfigError(
                    f"--{dest.replace('_', '-')} takes 1 or 3 values (D H W), got {len(value)}"
                )
            value = value[0] if len(value) == 1 else tuple(value)
        raw[_PARAMETER.get(dest, dest)] = value
    name, params = resolve(kind, raw)
    takes = set(kind_parameters(name))
    stray = [
        d for d in given if _PARAMETER.get(d, d) in params and _PARAMETER.get(d, d) not in takes
    ]
    if stray:
        flags = ", ".join("--" + d.replace("_", "-") for d in sorted(stray))
        raise ConfigError(f"{flags} does not apply to --kind {name}")
    need = _REQUIRED.get(name, ()) if required else ()
    if need and not set(given) & set(need):
        flags = " or ".join("--" + d.replace("_", "-") for d in need)
        raise ConfigError(f"--kind {name} needs {flags}")
    if "factor" in params and name in _INTEGER_FACTOR_KINDS:
        params["factor"] = _integers(params["factor"])
    return name, params


def _integers(value: float | tuple[float, ...]) -> int | tuple[int, ...]:
    from medsr.errors import ConfigError

    vals = value if isinstance(value, tuple) else (value,)
    if any(v != int(v) or v < 1 for v in vals):
        raise ConfigError(f"--factor must be positive integers for this kind, got {value}")
    ints = tuple(int(v) for v in vals)
    return ints if isinstance(value, tuple) else ints[0]


def _resolved(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Given parameters plus the library defaults of the rest, JSON-friendly (inf as "inf")."""
    import inspect

    from medsr.degrade.apply import VOLUME_KINDS, kind_parameters

    sig = inspect.signature(VOLUME_KINDS[kind])
    out = {
        name: sig.parameters[name].default
        for name in kind_parameters(kind)
        if sig.parameters[name].default is not inspect.Parameter.empty
    }
    out.update(params)
    return {k: _json_value(v) for k, v in sorted(out.items())}


def _json_value(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_json_value(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def run(args: argparse.Namespace) -> int:
    """Read, degrade, write the output and its JSON sidecar atomically (both or neither).

    The outputs are claimed first: a run already writing them, or an output folder that
    cannot be written, is refused before any work.
    """
    from medsr.io.sidecar import claim_with_sidecar

    with claim_with_sidecar(args.output, overwrite=args.overwrite):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from medsr.degrade import degrade_volume
    from medsr.degrade.pipeline import child_generators
    from medsr.errors import InputError, MedsrError
    from medsr.io import read_volume, sidecar_path
    from medsr.io.dispatch import WRITE_FORMATS, extension
    from medsr.io.sidecar import input_geometry, output_geometry, write_with_sidecar

    steps, like = _steps(args)
    output = Path(args.output)
    sidecar = sidecar_path(output)
    if extension(output) not in WRITE_FORMATS:
        raise InputError(
            output,
            f"cannot write {extension(output) or '(no extension)'!r}; use one of {list(WRITE_FORMATS)}",
        )
    if not args.overwrite:
        for path in (output, sidecar):
            if os.path.lexists(path):
                raise MedsrError(f"{path}: already exists; pass --overwrite to replace it")
    from medsr.io.memory import memory_plan
    from medsr.memory import degrade_plan

    ct = any(kind == "lowdose_ct" for kind, _ in steps)
    with memory_plan(degrade_plan([kind for kind, _ in steps])):  # refused before reading
        volume = read_volume(
            args.input, modality="CT" if ct else None, slice_tolerance=args.slice_tolerance
        )
    rng = np.random.default_rng(args.seed)
    # --like: one child generator per stage, as the training pipeline draws them
    rngs = child_generators(rng, len(steps)) if like else [rng]
    result = volume
    with _ct_progress(enabled=ct and not args.quiet):
        for (kind, params), stage_rng in zip(steps, rngs, strict=True):
            result = degrade_volume(result, kind=kind, rng=stage_rng, params=params)
    kinds = "+".join(kind for kind, _ in steps)
    record = {
        "command": "medsr degrade",
        "kind": kinds,
        "parameters": _resolved(*steps[0])
        if len(steps) == 1
        else [{"kind": k, "parameters": _resolved(k, p)} for k, p in steps],
        **({"like": like} if like else {}),
        "seed": args.seed,
        "input": str(args.input),
        "output": str(output),
        **input_geometry(volume),
        "input_spacing": list(volume.spacing),
        **output_geometry(result, output),  # (D, H, W) and the written file's own order
        "modality": result.modality,
        "unit": result.unit,
    }
    write_with_sidecar(
        result, output, record, overwrite=args.overwrite, description=f"medsr degrade {kinds}"
    )
    spacing = tuple(round(s, 6) for s in result.spacing)
    print(f"wrote {output} {result.shape} spacing {spacing} mm (D, H, W order)")
    print(f"wrote {sidecar}")
    return 0


@contextlib.contextmanager
def _ct_progress(*, enabled: bool) -> Iterator[None]:
    """A progress bar with ETA on stderr over the low-dose CT slice batches (one per stage);
    only when ``enabled`` and stderr is a terminal, so pipes, logs and ``--quiet`` stay silent."""
    from medsr.cli._progress import progress_bars
    from medsr.degrade.ct import slice_progress

    with progress_bars("lowdose_ct", "slice", enabled=enabled) as report:
        with slice_progress(report) if report is not None else contextlib.nullcontext():
            yield


def _steps(args: argparse.Namespace) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """``(canonical kind, parameters)`` to apply in order, and the ``--like`` record (empty
    without it).

    Raises:
        ConfigError: Neither or both of ``--kind`` and ``--like``, or a model whose degradation
            ``medsr degrade`` cannot reproduce.
    """
    from medsr.errors import ConfigError

    if (args.kind is None) == (args.like is None):
        raise ConfigError("pass one of --kind KIND or --like MODEL")
    if args.like is None:
        return [collect_parameters(args, args.kind)], {}
    from medsr.degrade.recorded import kinds_of_stages, recorded_degradation

    recorded, checkpoint = recorded_degradation(args.like)
    steps = kinds_of_stages(recorded, model=str(args.like))
    if len(steps) == 1:
        kind, flags = collect_parameters(args, steps[0][0], required=False)
        steps = [(kind, {**steps[0][1], **flags})]
    else:
        given = [d for d in _DESTS if getattr(args, d, None) is not None]
        if given:
            raise ConfigError(
                f"{args.like} records {len(steps)} degradation stages; parameter flags "
                f"(--{given[0].replace('_', '-')}) apply to one-stage models only"
            )
    like = {"model": str(args.like), "checkpoint": checkpoint, "recorded": recorded}
    return steps, like
