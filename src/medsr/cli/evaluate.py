"""``medsr evaluate PRED... --ref REF... --protocol NAME [NAME...]``: metrics table, JSON and CSV.

Several protocols are evaluated in one call (``--protocol a b``, ``--protocol a,b`` or
``--protocol a --protocol b``): the files are read once and every row carries its protocol, so
the outputs keep the one-protocol layout with one block of rows per protocol.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from medsr.cli._args import add_slice_tolerance

if TYPE_CHECKING:
    from medsr.metrics import Protocol

HELP = "evaluate predictions against references under one or more named protocols"

#: Files written into ``--out``.
OUTPUT_NAMES = ("metrics.json", "metrics.csv", "summary.csv")
_IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".npy", ".npz", ".png", ".dcm", ".h5")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``evaluate`` arguments."""
    parser.add_argument("pred", nargs="+", metavar="PRED", help="prediction files")
    parser.add_argument(
        "--ref", nargs="+", required=True, metavar="REF", help="reference files, one per PRED"
    )
    parser.add_argument(
        "--protocol",
        nargs="+",
        action="extend",
        required=True,
        metavar="NAME",
        help="evaluation protocol(s), evaluated in the order given: several names, "
        "comma-separated or the flag repeated (docs/protocols.md; an unknown name lists the "
        "known ones)",
    )
    parser.add_argument(
        "--mask",
        nargs="+",
        metavar="MASK",
        help="one mask per reference (non-zero = evaluated; e.g. a brain mask from a skull "
        "stripper): replaces the reference's foreground in the masked protocols (brain-mask, "
        "tissue-dice); the others ignore it",
    )
    parser.add_argument("--method", default="pred", help="method name stored in every row")
    parser.add_argument(
        "--out", metavar="DIR", help=f"write {', '.join(OUTPUT_NAMES)} into this folder"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_slice_tolerance(parser)


def case_ids(refs: list[str]) -> list[str]:
    """Case ids from the reference file names (extension removed, duplicates numbered)."""
    stems = []
    for ref in refs:
        name = Path(ref).name
        for ext in _IMAGE_EXTENSIONS:
            if name.lower().endswith(ext):
                name = name[: -len(ext)]
                break
        stems.append(name or ref)
    return [s if stems.count(s) == 1 else f"{s}#{i}" for i, s in enumerate(stems)]


def protocol_names(values: list[str]) -> list[str]:
    """The protocol names of ``--protocol`` values: commas split, order kept, repeats dropped.

    Raises:
        ConfigError: If no name is left (``--protocol ,``).
    """
    from medsr.errors import ConfigError

    names = [n.strip() for v in values for n in v.split(",")]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise ConfigError("--protocol needs at least one protocol name")
    return names


def resolve_protocols(values: list[str]) -> list[Protocol]:
    """The protocols named by ``--protocol`` values, all checked before any file is read.

    Raises:
        ConfigError: For an unknown name (with the closest known names).
    """
    from medsr.errors import ConfigError
    from medsr.metrics import get_protocol

    out = []
    for name in protocol_names(values):
        try:
            out.append(get_protocol(name))
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
    return out


def run(args: argparse.Namespace) -> int:
    """Read every pair, evaluate, print the table and write the result files.

    The outputs are claimed first: a run already writing them, or an output folder that
    cannot be written, is refused before any work.
    """
    from medsr.io.atomic import claim_outputs

    targets = [Path(args.out) / n for n in OUTPUT_NAMES] if args.out else []
    with claim_outputs(targets, overwrite=args.overwrite):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from medsr.errors import ConfigError, InputError, MedsrError
    from medsr.io import read_volume
    from medsr.io.atomic import write_text_atomic
    from medsr.metrics import evaluate_volumes, format_table
    from medsr.metrics.aggregate import summary_to_csv, write_csv, write_json

    protocols = resolve_protocols(args.protocol)
    if len(args.pred) != len(args.ref):
        raise ConfigError(
            f"got {len(args.pred)} PRED files but {len(args.ref)} --ref files; "
            "pass one reference per prediction, in the same order"
        )
    if args.mask is not None and len(args.mask) != len(args.ref):
        raise ConfigError(
            f"got {len(args.ref)} --ref files but {len(args.mask)} --mask files; "
            "pass one mask per reference, in the same order"
        )
    out = Path(args.out) if args.out else None
    if out is not None and not args.overwrite:
        for name in OUTPUT_NAMES:
            if (out / name).exists():
                raise MedsrError(f"{out / name}: already exists; pass --overwrite to replace it")

    from medsr.io.memory import memory_plan
    from medsr.memory import evaluate_plan

    tol = args.slice_tolerance
    # the files are read once for all protocols, which run one after the other
    with memory_plan(evaluate_plan(",".join(p.name for p in protocols))):
        preds = [read_volume(p, slice_tolerance=tol) for p in args.pred]
        refs = [read_volume(r, slice_tolerance=tol) for r in args.ref]
        masks = [read_volume(m, slice_tolerance=tol) for m in args.mask] if args.mask else None
    for name, mask, ref in zip(args.mask or [], masks or [], refs):
        if mask.shape != ref.shape:
            raise InputError(
                name, f"mask shape {mask.shape} differs from its reference's {ref.shape}"
            )
    cases = case_ids(args.ref)
    rows = []
    for protocol in protocols:
        rows += evaluate_volumes(
            preds,
            refs,
            protocol=protocol,
            method=args.method,
            cases=cases,
            pred_names=list(args.pred),
            ref_names=list(args.ref),
            masks=masks,
        )
    for protocol in protocols:
        print(f"protocol {protocol.name}: {protocol.description}")
    print(format_table(rows))
    if out is not None:
        write_json(out / OUTPUT_NAMES[0], rows, overwrite=args.overwrite)
        write_csv(out / OUTPUT_NAMES[1], rows, overwrite=args.overwrite)
        write_text_atomic(out / OUTPUT_NAMES[2], summary_to_csv(rows), overwrite=args.overwrite)
        print(f"wrote {', '.join(str(out / n) for n in OUTPUT_NAMES)}")
    return 0
