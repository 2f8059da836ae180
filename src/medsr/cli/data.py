"""``medsr data``: list the catalogue's real scans, install downloadable sources, export a scan."""

from __future__ import annotations

import argparse

HELP = "list the real scans of the catalogue, install downloadable ones, or export one to NIfTI"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``list``, ``install`` and ``export`` actions."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="table of catalogue scans and whether they are installed")
    install = sub.add_parser(
        "install",
        help="download sources that live only in an sdist or npm tarball into the cache folder",
    )
    install.add_argument(
        "names", nargs="+", metavar="NAME", help="a source, a catalogue scan or group, or `all`"
    )
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
    from medsr.data import catalogue, sources

    rows = [["name", "modality", "shape (D,H,W)", "role", "installed", "install command"]]
    for e in catalogue.entries():
        shape = "x".join(str(n) for n in e.shape)
        installed = "yes" if e.locate() is not None else "no"
        rows.append([e.name, e.modality, shape, e.role, installed, e.install])
    print(_table(rows))
    print(f"\n`medsr data install` (or `make data`) downloads into {sources.data_dir()}")
    return 0


def _install(names: list[str]) -> int:
    from medsr.data import catalogue, sources
    from medsr.errors import MedsrError

    try:
        wanted = catalogue.sources_for(names)
    except KeyError as exc:
        raise MedsrError(str(exc.args[0])) from None
    for name in wanted:
        if not sources.is_installed(name, members=catalogue.cache_members(name)):
            print(f"{name}: downloading {sources.get(name).package} ...", flush=True)
        done = catalogue.install([name])[0]
        state = "already installed" if done.skipped else f"installed {len(done.files)} files"
        print(f"{name}: {state} in {done.folder}")
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
    """Run ``medsr data list``, ``medsr data install`` or ``medsr data export``."""
    if args.action == "list":
        return _list()
    if args.action == "install":
        return _install(args.names)
    if args.action == "export":
        return _export(args.name, args.out, args.overwrite)
    from medsr.errors import MedsrError

    raise MedsrError(
        "choose an action: `medsr data list`, `medsr data install NAME` "
        "or `medsr data export NAME OUT.nii.gz`"
    )
