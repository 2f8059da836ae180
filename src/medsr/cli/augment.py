"""``medsr augment SCAN... --model MODEL -o DIR``: SR copies of scans with tissue labels, as a
segmentation training set (see :mod:`medsr.augment`)."""

from __future__ import annotations

import argparse
import contextlib

from medsr.cli._args import add_slice_tolerance

HELP = "write super-resolved copies of brain scans with their tissue labels as a training set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``augment`` arguments."""
    parser.add_argument(
        "scans",
        nargs="+",
        metavar="SCAN",
        help="high-resolution brain scans (skull-stripped, or give --mask); with --no-simulate, "
        "low-resolution scans to super-resolve",
    )
    parser.add_argument(
        "--model", required=True, metavar="CKPT", help="SR checkpoint or bundled model name"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="training-set folder (written whole)"
    )
    parser.add_argument(
        "--mask",
        nargs="+",
        metavar="MASK",
        help="one brain mask per scan, on its grid (non-zero = brain): the region the tissue "
        "labels are fitted in (default: each scan's foreground)",
    )
    parser.add_argument(
        "--no-simulate",
        dest="simulate",
        action="store_false",
        help="the scans are real low-resolution inputs: super-resolve them as they are "
        "(labels only from --labels)",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        metavar="LABEL",
        help="with --no-simulate: one label file per scan, on the SR output's grid",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="noise seed of the first scan's degradation (+1 each)"
    )
    parser.add_argument(
        "--window", nargs="+", type=int, metavar="N", help="sliding window in input voxels"
    )
    parser.add_argument("--batch-size", type=int, default=1, help="windows per network call")
    parser.add_argument("--device", help="cpu (default), cuda or cuda:N")
    parser.add_argument(
        "--force", action="store_true", help="run on a scan whose modality is not the model's"
    )
    add_slice_tolerance(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (one shows on stderr over the model's windows when it is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the set and say what it holds."""
    from medsr.augment import AugmentOptions, augment_scans
    from medsr.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.device is not None:
        from medsr.devices import parse_device

        parse_device(args.device)  # a bad name is refused before any work
    window = args.window
    if window is not None and (min(window) < 1 or len(window) not in (1, 2, 3)):
        raise ConfigError(f"--window takes 1 to 3 positive sizes, got {window}")
    options = AugmentOptions(
        simulate=args.simulate,
        masks=args.mask,
        labels=args.labels,
        seed=args.seed,
        window=window[0] if window and len(window) == 1 else (tuple(window) if window else None),
        batch_size=args.batch_size,
        device=args.device,
        force=args.force,
        slice_tolerance=args.slice_tolerance,
        overwrite=args.overwrite,
    )
    from medsr.cli._progress import progress_bars
    from medsr.nn.sliding_window import window_progress

    with progress_bars("augment", "window", enabled=not args.quiet) as report:
        with window_progress(report) if report is not None else contextlib.nullcontext():
            manifest = augment_scans(args.scans, model=args.model, out=args.output, options=options)
    kinds = [e["kind"] for e in manifest["training"]]
    print(
        f"wrote {args.output}: {kinds.count('sr')} SR and {kinds.count('real')} real image(s), "
        f"{sum(e['label'] is not None for e in manifest['training'])} with labels; "
        f"manifest {args.output}/dataset.json"
    )
    return 0
