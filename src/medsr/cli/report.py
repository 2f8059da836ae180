"""``medsr report DIR``: a self-contained HTML visual report and its Markdown twin."""

from __future__ import annotations

import argparse

HELP = "write report.html (self-contained) and report.md for a demo, evaluation or training folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` arguments."""
    parser.add_argument(
        "src", metavar="DIR", help="output folder of medsr demo, medsr evaluate or medsr train"
    )
    parser.add_argument("--out", metavar="DIR", help="write the report here (default: DIR)")
    parser.add_argument(
        "--train",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="add the training curves of this medsr train folder (repeatable)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.add_argument("--title", metavar="T", help="report title")


def run(args: argparse.Namespace) -> int:
    """Build the report and print the paths written."""
    from medsr.report import build_report

    result = build_report(
        args.src,
        out_dir=args.out,
        train_runs=args.train,
        overwrite=args.overwrite,
        title=args.title,
    )
    print(result.html)
    print(result.markdown)
    print(f"{result.html.parent / 'report_files'}/ ({len(result.files)} images)")
    return 0
