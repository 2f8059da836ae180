"""``medsr data``: list the package-shipped scans and export one as NIfTI."""

from __future__ import annotations

import argparse

HELP = "list the package-shipped real scans, or export one to NIfTI"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``list`` and ``export`` actions."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="table of catalogue scans and whether they are installed")
    export = sub.add_parser("export", help="write a catalogue scan to a NIfTI file")
    export.add_argument("name", help="catalogue name (see `medsr data list`)")
    export.add_argument("out", help="output path ending in .nii or .nii.gz")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _list() -> int:
    from medsr.data import catalogue

    rows = [["name", "modality", "shape (D,H,W)", "role", "installed", "install command"]]
    for e in catalogue.entries():
        shape = "x".join(str(n) for n in e.shape)
        installed = "yes" if e.locate() is not None else "no"
        rows.append([e.name, e.modality, shape, e.role, installed, e.install])
    print(_table(rows))
    return 0


def _export(name: str, out: str, overwrite: bool) -> int:
    from medsr.data import catalogue
    from medsr.errors import InputError, MedsrError
    from medsr.io import write_volume
    from medsr.io.dispatch import extension

    if extension(out) not in (".nii", ".nii.gz"):
        raise InputError(out, "export writes NIfTI; give a path ending in .nii or .nii.gz")
    try:
        entry = catalogue.get(name)
    except KeyError as exc:
        raise MedsrError(str(exc.args[0])) from None
    vol = catalogue.load(entry.name)
    path = write_volume(vol, out, overwrite=overwrite, description=f"medsr catalogue {name}")
    shape = "x".join(str(n) for n in vol.shape)
    spacing = "x".join(f"{s:g}" for s in vol.spacing)
    print(f"wrote {path} ({entry.modality}, {shape} voxels, {spacing} mm, {vol.unit})")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``medsr data list`` or ``medsr data export``."""
    if args.action == "list":
        return _list()
    if args.action == "export":
        return _export(args.name, args.out, args.overwrite)
    from medsr.errors import MedsrError

    raise MedsrError("choose an action: `medsr data list` or `medsr data export NAME OUT.nii.gz`")
