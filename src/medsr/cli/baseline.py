"""``medsr baseline NAME IN -o OUT [--scale SD SH SW] [--sigma S]``: apply a baseline to a volume."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from pathlib import Path

from medsr.cli._args import add_slice_tolerance

HELP = "apply a baseline (interpolation, zero-filled k-space, classical denoiser) to a volume"
#: Denoisers whose noise sigma ``--sigma`` sets (the rest take none).
SIGMA_HELP = (
    "noise standard deviation in the input's units (HU for CT) for nlm, bilateral and bm3d; "
    "default: estimated on the input (bm3d: a flat-tissue estimate that is right for correlated "
    "CT noise); the sidecar records the value used"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``baseline`` arguments."""
    parser.add_argument(
        "name",
        metavar="NAME",
        help="nearest, linear, cubic, zero-filled (upsampling); identity, nlm, bilateral, bm3d (CT)",
    )
    parser.add_argument("input", metavar="IN", help="input volume (NIfTI, DICOM, NPY, ...)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output file (.nii.gz, .npy, ...)"
    )
    parser.add_argument(
        "--scale",
        nargs="+",
        type=int,
        metavar="S",
        help="integer factor, one for all axes or three in (D, H, W) order; upsampling only",
    )
    parser.add_argument("--sigma", type=float, metavar="S", help=SIGMA_HELP)
    add_slice_tolerance(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output and sidecar"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (nlm, bilateral and bm3d show one over the slices on stderr when "
        "it is a terminal)",
    )


def _scale(values: list[int] | None) -> int | tuple[int, ...] | None:
    if values is None:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def run(args: argparse.Namespace) -> int:
    """Read, apply the baseline, write the output and a JSON sidecar.

    The outputs are claimed first: a run already writing them, or an output folder that
    cannot be written, is refused before any work.
    """
    from medsr.io.sidecar import claim_with_sidecar

    with claim_with_sidecar(args.output, overwrite=args.overwrite):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from medsr.baselines import BASELINES, run_baseline
    from medsr.errors import ConfigError, MedsrError
    from medsr.io import read_volume, sidecar_path
    from medsr.io.sidecar import input_geometry, output_geometry, write_with_sidecar

    try:
        spec = BASELINES.get(args.name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    scale = _scale(args.scale)
    if spec.task == "upsample" and scale is None:
        raise ConfigError(f"baseline {args.name!r} upsamples: pass --scale, e.g. --scale 2 2 1")
    if scale is not None and isinstance(scale, tuple) and len(scale) != 3:
        raise ConfigError(f"--scale takes 1 or 3 integers (D, H, W), got {len(scale)}")
    if args.scale is not None and min(args.scale) < 1:
        raise ConfigError(f"--scale takes positive integers (D, H, W), got {args.scale}")
    if args.sigma is not None and spec.noise is None:
        raise ConfigError(f"baseline {args.name!r} takes no --sigma (nlm, bilateral, bm3d do)")
    if args.sigma is not None and not (math.isfinite(args.sigma) and args.sigma >= 0):
        raise ConfigError(f"--sigma must be a finite number >= 0, got {args.sigma}")
    if args.slice_tolerance is not None and not (
        math.isfinite(args.slice_tolerance) and args.slice_tolerance >= 0
    ):
        raise ConfigError(
            f"--slice-tolerance must be a finite number >= 0 mm, got {args.slice_tolerance}"
        )
    output = Path(args.output)
    sidecar = sidecar_path(output)
    if not args.overwrite:
        for path in (output, sidecar):
            if os.path.lexists(path):
                raise MedsrError(f"{path}: already exists; pass --overwrite to replace it")

    from medsr.io.memory import memory_plan
    from medsr.memory import baseline_plan

    with memory_plan(baseline_plan(args.name, scale)):  # refused before reading
        volume = read_volume(args.input, slice_tolerance=args.slice_tolerance)
    from medsr.baselines.progress import slice_progress
    from medsr.cli._progress import progress_bars

    with progress_bars(f"baseline {args.name}", "slice", enabled=not args.quiet) as report:
        with slice_progress(report) if report is not None else contextlib.nullcontext():
            result = run_baseline(
                args.name, volume, scale=1 if scale is None else scale, sigma=args.sigma
            )
    record = result.meta["baseline"]
    noise = {k: record[k] for k in ("sigma", "sigma_source") if k in record}
    if len(noise.get("sigma", ())) == 1:
        noise["sigma"] = noise["sigma"][0]
    write_with_sidecar(
        result,
        output,
        {
            "command": "medsr baseline",
            "kind": "baseline",
            "name": args.name,
            "scale": result.meta["baseline"]["scale"],
            "input": str(args.input),
            **input_geometry(volume),
            "input_spacing": list(volume.spacing),
            **output_geometry(result, output),  # (D, H, W) and the written file's own order
            **noise,
        },
        overwrite=args.overwrite,
        description=f"medsr baseline {args.name}",
    )
    spacing = tuple(round(s, 6) for s in result.spacing)
    print(f"wrote {output} {result.shape} spacing {spacing} mm (D, H, W order)")
    if "sigma" in noise:
        print(f"noise sigma {noise['sigma']} ({noise['sigma_source']})")
    print(f"wrote {sidecar}")
    return 0
