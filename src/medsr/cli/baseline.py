"""``medsr baseline NAME IN -o OUT [--scale SD SH SW]``: apply a baseline to a volume."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "apply a baseline (interpolation, zero-filled k-space, classical denoiser) to a volume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``baseline`` arguments."""
    parser.add_argument(
        "name",
        metavar="NAME",
        help="nearest, linear, cubic, zero-filled (upsampling); identity, nlm, bilateral (CT)",
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
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output and sidecar"
    )


def _scale(values: list[int] | None) -> int | tuple[int, ...] | None:
    if values is None:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def run(args: argparse.Namespace) -> int:
    """Read, apply the baseline, write the output and a JSON sidecar."""
    from medsr.baselines import BASELINES, run_baseline
    from medsr.errors import ConfigError, MedsrError
    from medsr.io import read_volume, sidecar_path, write_json_sidecar, write_volume

    try:
        spec = BASELINES.get(args.name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    scale = _scale(args.scale)
    if spec.task == "upsample" and scale is None:
        raise ConfigError(f"baseline {args.name!r} upsamples: pass --scale, e.g. --scale 2 2 1")
    if scale is not None and isinstance(scale, tuple) and len(scale) != 3:
        raise ConfigError(f"--scale takes 1 or 3 integers (D, H, W), got {len(scale)}")
    output = Path(args.output)
    sidecar = sidecar_path(output)
    if not args.overwrite:
        for path in (output, sidecar):
            if path.exists():
                raise MedsrError(f"{path}: already exists; pass --overwrite to replace it")

    volume = read_volume(args.input)
    result = run_baseline(args.name, volume, scale=1 if scale is None else scale)
    write_volume(
        result, output, overwrite=args.overwrite, description=f"medsr baseline {args.name}"
    )
    write_json_sidecar(
        sidecar,
        {
            "kind": "baseline",
            "name": args.name,
            "scale": result.meta["baseline"]["scale"],
            "input": str(args.input),
            "input_shape": list(volume.shape),
            "input_spacing": list(volume.spacing),
            "output_shape": list(result.shape),
            "output_spacing": list(result.spacing),
        },
        overwrite=args.overwrite,
    )
    print(f"wrote {output} {result.shape} spacing {tuple(round(s, 6) for s in result.spacing)}")
    print(f"wrote {sidecar}")
    return 0
