"""``medsr demo``: the main job on the embedded default scan."""

from __future__ import annotations

import argparse
import sys

HELP = "run the main job on the embedded default scan (MNI152 T1) and write demo-output/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument(
        "--scan", default="mni152_2009a", help="catalogue name of the reference scan"
    )
    parser.add_argument(
        "--factor",
        type=int,
        nargs=3,
        default=[1, 2, 2],
        metavar=("D", "H", "W"),
        help="k-space truncation factor per axis (default: 1 2 2)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")


def run(args: argparse.Namespace) -> int:
    from medsr.demo import run_demo

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"[medsr demo] {msg}", file=sys.stderr, flush=True)

    result = run_demo(args.out, scan=args.scan, factor=args.factor, progress=say)
    print(result.table)
    print(f"\nwrote {len(result.files)} files to {result.out_dir}/")
    return 0
