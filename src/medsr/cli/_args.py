"""Arguments several commands share, defined once."""

from __future__ import annotations

import argparse
from typing import Any

SLICE_TOLERANCE_HELP = (
    "DICOM series: accepted deviation of a slice gap from the mean spacing (default: "
    "what the rounding of the written positions explains)"
)


def add_slice_tolerance(parser: Any) -> None:
    """``--slice-tolerance MM`` on a parser or an argument group."""
    assert isinstance(parser, (argparse.ArgumentParser, argparse._ArgumentGroup))
    parser.add_argument("--slice-tolerance", type=float, metavar="MM", help=SLICE_TOLERANCE_HELP)
