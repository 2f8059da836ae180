"""Atomic writes: all or nothing, exclusive, no debris after a kill, ordinary permissions."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from medsr.errors import MedsrError
from medsr.io.atomic import (
    atomic_dir,
    atomic_path,
    claim_outputs,
    clean_stale_partials,
    lock_path,
    write_text_atomic,
)


def test_written_file_has_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        import importlib

        import medsr.io.atomic as atomic

        importlib.reload(atomic)  # the mode is read from the umask at import
        path = atomic.write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
        importlib.reload(atomic)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "b.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "c.txt", "mine")
    with pytest.raises(MedsrError, match="already exists"):
        write_text_atomic(target, "new", overwrite=False)
    assert target.read_text() == "mine"


# ---------------------------------------------------------------- exclusivity and kills

_HOLDER = """
import os, sys, time
from pathlib import Path
from medsr.io.atomic import atomic_path
target, ready, go = map(Path, sys.argv[1:4])
with atomic_path(target, overwrite=False) as tmp:
    tmp.write_bytes(b"partial" * 1000)
    ready.write_text(str(os.getpid()))
    while not go.exists():
        time.sleep(0.02)
"""


def _start_holder(tmp_path: Path, target: Path) -> tuple[subprocess.Popen[bytes], Path]:
    ready, go = tmp_path / "ready", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target), str(ready), str(go)])
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, "the holder process died"
        assert time.monotonic() < deadline, "the holder process never got ready"
        time.sleep(0.02)
    return proc, go


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_commit_is_link_or_fail(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(MedsrError, match=r"out\.txt: already exists"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_text("mine")
            target.write_text("theirs")  # a writer that took no lock finished first
    assert target.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_commit_without_hard_links_is_still_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    target = write_text_atomic(tmp_path / "a.txt", "first", overwrite=False)
    assert target.read_text() == "first"
    with pytest.raises(MedsrError, match="already exists"):
        with atomic_path(tmp_path / "b.txt", overwrite=False) as tmp:
            tmp.write_text("mine")
            (tmp_path / "b.txt").write_text("theirs")
    assert (tmp_path / "b.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_second_process_is_refused_while_the_first_writes(tmp_path: Path) -> None:
    target = tmp_path / "out.nii.gz"
    proc, go = _start_holder(tmp_path, target)
    try:
        with pytest.raises(
            MedsrError, match=rf"out\.nii\.gz: another medsr run \(pid {proc.pid}\)"
        ):
            with claim_outputs([target], overwrite=True):
                pass
        with pytest.raises(MedsrError, match="another medsr run"):
            write_text_atomic(target, "mine", overwrite=True)
    finally:
        go.write_text("")
        assert proc.wait(timeout=120) == 0
    assert target.read_bytes() == b"partial" * 1000  # the first writer's result, complete
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["go", "out.nii.gz", "ready"]  # its lock file is gone too


def test_a_second_thread_is_refused_too(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with claim_outputs([target], overwrite=False):
            held.set()
            done.wait(60)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert held.wait(60)
        with pytest.raises(MedsrError, match="another medsr run"):
            write_text_atomic(target, "x", overwrite=False)
    finally:
        done.set()
        worker.join()
    assert write_text_atomic(target, "x", overwrite=False).read_text() == "x"


def test_claims_nest_in_one_thread(tmp_path: Path) -> None:
    target = tmp_path / "n.txt"
    with claim_outputs([target], overwrite=False):
        assert lock_path(target).exists()
        write_text_atomic(target, "inside", overwrite=False)
        assert lock_path(target).exists()  # still held by the outer claim
    assert not lock_path(target).exists()
    assert target.read_text() == "inside"


def test_a_killed_writer_leaves_debris_the_next_run_removes(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    proc, _ = _start_holder(tmp_path, target)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    debris = {p.name for p in tmp_path.iterdir() if p.name.startswith(".out.npy.")}
    partials = {n for n in debris if n.startswith(f".out.npy.{proc.pid}.")}  # names its writer
    assert len(partials) == 1 and debris == {".out.npy.lock", *partials}
    assert not target.exists()
    write_text_atomic(target, "next run", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "ready"]
    assert target.read_text() == "next run"


def test_only_stale_partials_of_the_same_output_are_cleaned(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".a.nii.gz.{dead}.abcd_123.tmp.nii.gz"
    legacy = tmp_path / ".a.nii.gz.k2j4h5g6.tmp.nii.gz"  # written before PIDs were in names
    live = tmp_path / f".a.nii.gz.{alive}.zzzzzzzz.tmp.nii.gz"
    other = tmp_path / f".b.nii.gz.{dead}.abcdefgh.tmp.nii.gz"  # another output's partial
    folder = tmp_path / f".a.nii.gz.{dead}.qwertyui.tmp"  # a DICOM folder partial
    for p in (stale, legacy, live, other):
        p.write_bytes(b"x")
    folder.mkdir()
    (folder / "IM0001.dcm").write_bytes(b"x")
    assert sorted(clean_stale_partials(tmp_path / "a.nii.gz")) == sorted([stale, legacy, folder])
    assert live.exists() and other.exists()


def test_run_folder_sweep(tmp_path: Path) -> None:
    from medsr.train.rundir import clean_partials

    dead = _dead_pid()
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    partial = ckpts / f".ckpt_00000200.pt.{dead}.a1b2c3d4.tmp.pt"
    keep = ckpts / f".ckpt_00000300.pt.{os.getpid()}.a1b2c3d4.tmp.pt"
    real = ckpts / "ckpt_00000100.pt"
    stale_lock = ckpts / ".ckpt_00000200.pt.lock"
    for p in (partial, keep, real, stale_lock):
        p.write_bytes(b"x")
    assert sorted(clean_partials(tmp_path)) == sorted([partial, stale_lock])
    assert keep.exists() and real.exists()
    with claim_outputs([tmp_path / "summary.json"], overwrite=False):
        assert clean_partials(tmp_path) == []  # a held lock is not debris
        assert lock_path(tmp_path / "summary.json").exists()


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to-a-file"])
def test_a_symlink_at_the_target_counts_as_existing(tmp_path: Path, dangling: bool) -> None:
    pointee = tmp_path / "pointee.txt"
    if not dangling:
        pointee.write_text("keep me")
    link = tmp_path / "out.txt"
    link.symlink_to(pointee)
    with pytest.raises(MedsrError, match="already exists"):
        write_text_atomic(link, "new", overwrite=False)
    assert link.is_symlink() and (dangling or pointee.read_text() == "keep me")
    write_text_atomic(link, "new", overwrite=True)
    assert not link.is_symlink() and link.read_text() == "new"
    assert dangling or pointee.read_text() == "keep me"  # the link is replaced, not followed


def test_unwritable_places_are_named_by_the_users_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub" / "out.nii.gz"
    with pytest.raises(MedsrError) as info:
        with claim_outputs([target], overwrite=False):
            pass
    msg = str(info.value)
    assert msg.startswith(f"{target}: ") and "not a folder" in msg and ".tmp" not in msg


def test_read_only_folder_is_refused_before_writing() -> None:
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="medsr-ro-"))  # under /tmp: reachable by nobody
    try:
        folder.chmod(0o555)
        code = (
            "import sys; from medsr.io.atomic import write_text_atomic\n"
            "try:\n    write_text_atomic(sys.argv[1], 'x')\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)"
        )
        as_user = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
        try:  # as root, run as nobody: root writes into read-only folders
            out = subprocess.run(
                [sys.executable, "-c", code, str(folder / "o.txt")],
                capture_output=True, text=True, timeout=300, **as_user,
            )  # fmt: skip
        except PermissionError:
            pytest.skip("running as root and the interpreter is out of reach of user nobody")
        assert out.stdout.strip() == (
            f"MedsrError {folder / 'o.txt'}: cannot write in {folder}: permission denied"
        ), out.stderr
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_a_failed_claim_removes_the_folders_it_made(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "out.txt"
    with pytest.raises(RuntimeError), claim_outputs([target], overwrite=False):
        assert (tmp_path / "new" / "deeper").is_dir()
        raise RuntimeError("the model failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_atomic_dir_has_mkdir_permissions_and_is_exclusive(tmp_path: Path) -> None:
    import importlib

    import medsr.io.atomic as atomic

    old = os.umask(0o022)
    try:
        importlib.reload(atomic)
        with atomic.atomic_dir(tmp_path / "series", overwrite=False) as tmp:
            (tmp / "IM1.dcm").write_bytes(b"x")
    finally:
        os.umask(old)
        importlib.reload(atomic)
    assert stat.S_IMODE((tmp_path / "series").stat().st_mode) == 0o755  # not mkdtemp's 0700
    with pytest.raises(MedsrError, match="already exists"):
        with atomic_dir(tmp_path / "series", overwrite=False) as tmp:
            pass
    with atomic_dir(tmp_path / "series", overwrite=True) as tmp:
        (tmp / "IM2.dcm").write_bytes(b"y")
    assert [p.name for p in (tmp_path / "series").iterdir()] == ["IM2.dcm"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]


def test_write_errors_name_the_users_path_not_the_hidden_one(tmp_path: Path) -> None:
    target = tmp_path / "out.nii.gz"
    with pytest.raises(MedsrError) as info, atomic_path(target) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))  # disk full mid-write
    assert str(info.value) == f"{target}: cannot write in {tmp_path}: no space left on the device"
    (tmp_path / "folder").mkdir()
    with pytest.raises(MedsrError, match=r"folder: is a folder; name a file"):
        write_text_atomic(tmp_path / "folder", "x", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
