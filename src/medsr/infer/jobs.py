"""Which scans ``medsr enhance`` processes and where each result goes.

An input is a file (NIfTI, DICOM, PNG/JPG, NPY, ...), a DICOM series folder (every DICOM file in it
belongs to one series), or a folder of scans: its files with a readable extension and its
sub-folders that are series. With one scan, ``-o`` names the output file (or the DICOM folder
with ``--dicom-out``; an existing folder receives the default name); with several, ``-o`` is a
folder and each result keeps its scan's name. Defaults: PNG/JPG -> ``.png``, NPY -> ``.npy``,
everything else -> ``.nii.gz``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medsr.errors import InputError
from medsr.io.dispatch import READ_FORMATS, WRITE_FORMATS
from medsr.io.sidecar import sidecar_path

_DICOM_EXT = ("", ".dcm", ".dicom", ".ima")
_SKIP_EXT = (".json", ".txt", ".md", ".csv", ".yaml", ".yml")


@dataclass(frozen=True)
class Job:
    """One scan to enhance.

    Attributes:
        source: Input file or DICOM series folder.
        output: Output file, or folder for a DICOM series.
        sidecar: JSON record written next to the output.
    """

    source: Path
    output: Path
    sidecar: Path


def _ext(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _stem(path: Path) -> str:
    ext = _ext(path)
    return path.name[: -len(ext)] if ext else path.name


def _dicom_uid(path: Path) -> str | None:
    """SeriesInstanceUID of a DICOM image file, None if it is not one."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=path.suffix.lower() != ".dcm")
    except Exception:
        return None
    if "Rows" not in ds:
        return None
    return str(ds.get("SeriesInstanceUID", ""))


def _files(folder: Path) -> list[Path]:
    return [
        f
        for f in sorted(folder.iterdir())
        if f.is_file() and not f.name.startswith(".") and _ext(f) not in _SKIP_EXT
    ]


def is_series_folder(folder: Path) -> bool:
    """True when every file in ``folder`` is a DICOM image of one series (at least one)."""

    files = _files(folder)
    if not files or any(_ext(f) not in _DICOM_EXT for f in files if _ext(f) in READ_FORMATS):
        return False
    uids = {_dicom_uid(f) for f in files if _ext(f) in _DICOM_EXT}
    uids.discard(None)
    return len(uids) == 1 and any(_ext(f) in _DICOM_EXT for f in files)


def discover(inputs: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], bool]:
    """Scans named by ``inputs``; the flag says whether a folder of scans was expanded.

    Raises:
        InputError: For a missing input or a folder with no scan in it.
    """

    scans: list[Path] = []
    expanded = False
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise InputError(p, "no such file or folder")
        if p.is_file() or is_series_folder(p):
            scans.append(p)
            continue
        expanded = True
        found = [f for f in _files(p) if _ext(f) in READ_FORMATS and _ext(f) not in _DICOM_EXT]
        dicoms = [f for f in _files(p) if _ext(f) in _DICOM_EXT and _dicom_uid(f) is not None]
        found += dicoms
        found += [d for d in sorted(p.iterdir()) if d.is_dir() and is_series_folder(d)]
        if not found:
            raise InputError(p, "folder holds no scan medsr can read (see `medsr enhance --help`)")
        scans.extend(sorted(found))
    return scans, expanded


def default_extension(source: Path) -> str:
    """Output extension for a scan: ``.png`` for PNG/JPG, ``.npy`` for NPY, else ``.nii.gz``."""
    ext = _ext(source) if source.is_file() else ""
    if ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        return ".png"
    if ext == ".npy":
        return ".npy"
    return ".nii.gz"


def sidecar_for(output: Path, *, folder: bool) -> Path:
    """``out.nii.gz`` -> ``out.json``; a DICOM folder ``out`` -> ``out.json`` beside it."""

    return output.with_name(output.name + ".json") if folder else sidecar_path(output)


def plan(
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *, dicom_out: bool
) -> list[Job]:
    """One :class:`Job` per scan, with output paths resolved.

    Raises:
        InputError: Missing inputs, an unsupported output extension, or two scans that would
            write the same output.
    """

    scans, expanded = discover(inputs)
    out = Path(output)
    single = len(scans) == 1 and not expanded
    jobs = []
    for scan in scans:
        name = _stem(scan)
        if single and not (out.is_dir() and not dicom_out):
            target = out
        else:
            target = out / (name if dicom_out else name + default_extension(scan))
        if not dicom_out and _ext(target) not in WRITE_FORMATS:
            raise InputError(
                target,
                f"cannot write {_ext(target) or '(no extension)'!r}; use one of {list(WRITE_FORMATS)}",
            )
        jobs.append(Job(scan, target, sidecar_for(target, folder=dicom_out)))
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.output in seen:
            raise InputError(
                job.source, f"would overwrite the output of {seen[job.output]}; rename one"
            )
        seen[job.output] = job.source
    return jobs
