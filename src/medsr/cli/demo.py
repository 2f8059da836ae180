"""``medsr demo``: the main job on the embedded default scan, with the bundled models."""

from __future__ import annotations

import argparse
import sys

HELP = "run the bundled models against baselines on package scans; writes demo-output/report.html"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument(
        "--scan",
        action="append",
        dest="scans",
        metavar="NAME",
        help="brain MRI catalogue scan (repeatable; default: mni152_2009a)",
    )
    parser.add_argument(
        "--ct-scan",
        action="append",
        dest="ct_scans",
        metavar="NAME",
        help="CT catalogue scan (repeatable; default: the held-out pydicom-data patients)",
    )
    parser.add_argument(
        "--all-scans",
        action="store_true",
        help="also every other installed brain MRI scan (pycortex S1, colin27, ...); slower",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="bundled model to run (repeatable; default: all but the PSNR stages of installed GAN "
        "models, see `medsr models`); a PSNR "
        "model given with its GAN model runs in the GAN model's cases",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="MRI model arithmetic (auto: bf16 autocast where the CPU has native bf16)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip report.html / report.md")
    parser.add_argument("--quiet", action="store_true", help="no progress bar; print the table")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from medsr.demo import run_demo

    bar = tqdm(
        total=0, desc="medsr demo", unit="stage", disable=args.quiet, file=sys.stderr,
        bar_format="{desc}: {n_fmt}/{total_fmt} |{bar:24}| {elapsed} {postfix}",
    )  # fmt: skip

    def plan(total: int) -> None:
        bar.total = total
        bar.refresh()

    def say(msg: str) -> None:
        bar.set_postfix_str(msg, refresh=False)
        bar.update(1)

    try:
        result = run_demo(
            args.out,
            scans=args.scans,
            ct_scans=args.ct_scans,
            all_scans=args.all_scans,
            models=args.models,
            report=not args.no_report,
            precision=args.precision,
            progress=say,
            on_plan=plan,
        )
    finally:
        bar.close()
    print(result.table)
    for note in result.notes:
        print(f"note: {note}")
    where = result.out_dir / ("report.html" if not args.no_report else "")
    print(
        f"\n{len(result.files)} files in {result.out_dir}/ ({result.seconds:.0f} s); open {where}"
    )
    return 0
