"""Atomic, exclusive output: reserve the name, write a hidden temporary file, commit it at once.

Guarantees for every writer that goes through this module (``medsr enhance``, ``degrade``,
``baseline``, ``export``, ``evaluate``, checkpoints and run files):

* **All or nothing**: data is written to ``.NAME.PID.XXXXXXXX.tmp[.ext]`` beside the target and
  renamed (or linked) into place only when complete; on an error it is removed.
* **Exclusive**: :func:`claim_outputs` takes an exclusive lock (``.NAME.lock`` beside the target,
  held with ``flock`` so a killed process releases it) before any work, so a second run writing
  the same output is refused at once. Without ``overwrite`` the final commit is link-or-fail
  (``os.link`` refuses an existing name, a symlink included), so even a writer that does not take
  the lock cannot be silently replaced.
* **No debris after a kill**: the partials of a dead writer (its PID is in the name) are removed
  the next time the same output is written (:func:`clean_partials` for whole run folders).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from medsr.errors import MedsrError

#: ``.NAME.[PID.]XXXXXXXX.tmp[.ext]`` (file or folder) and ``.NAME.oldPID`` (a replaced folder).
_PARTIAL = re.compile(
    r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp(?:\..*)?$|^\.(?P<oname>.+)\.old(?P<opid>\d+)$"
)
_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")


def _suffix(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".tar.gz"):
        if name.endswith(ext):
            return ext
    return path.suffix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Mode of a file created by a plain ``open`` (mkstemp's temporary files are 0600).
_FILE_MODE = 0o666 & ~_umask()
#: Mode of a folder created by a plain ``mkdir`` (mkdtemp's folders are 0700).
_DIR_MODE = 0o777 & ~_umask()

#: ``flock`` errors of file systems that have no locks (some network and FUSE mounts).
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL)

#: Locks this process holds: absolute target path -> (thread id, depth, lock fd).
_HELD: dict[str, tuple[int, int, int]] = {}
_HELD_GUARD = threading.Lock()


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file that reserves ``target`` while a writer works on it."""
    t = Path(target)
    return t.with_name(f".{t.name}.lock")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def _where_error(target: Path, exc: OSError) -> MedsrError:
    """A one-line error for an output that cannot be written, naming the user's path."""
    if isinstance(exc, PermissionError):
        why = f"cannot write in {target.parent}: permission denied"
    elif isinstance(exc, NotADirectoryError | FileExistsError) or exc.errno == errno.ENOTDIR:
        why = f"cannot write there: {target.parent} (or a folder above it) is not a folder"
    elif isinstance(exc, IsADirectoryError):
        why = "is a folder; name a file to write (or remove the folder)"
    elif exc.errno == errno.EROFS:
        why = f"cannot write in {target.parent}: read-only file system"
    elif exc.errno == errno.ENOSPC:
        why = f"cannot write in {target.parent}: no space left on the device"
    else:
        why = f"cannot write there ({exc.strerror or type(exc).__name__})"
    return MedsrError(f"{target}: {why}")


def _make_parent(folder: Path, target: Path) -> list[Path]:
    """Create ``folder`` and missing parents; returns the folders created (outermost first)."""
    missing: list[Path] = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _where_error(target, exc) from None
    return missing[::-1]


def _busy(target: Path, fd: int) -> MedsrError:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode("ascii").strip() or 0)
        if pid:
            return MedsrError(
                f"{target}: another medsr run (pid {pid}) is writing it; wait for it to end "
                "or choose another output"
            )
    return MedsrError(
        f"{target}: another medsr run is writing it; wait for it to end or choose another output"
    )


def _lock_fd(target: Path) -> int:
    """Open and exclusively lock ``target``'s lock file; returns its descriptor.

    Raises:
        MedsrError: If another process (or thread) holds it, or the folder is not writable.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: an O_EXCL file with the writer's PID
        return _lock_fd_excl(target)
    lp = lock_path(target)
    while True:
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
        except OSError as exc:
            raise _where_error(target, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _NO_LOCKS:  # a file system without locks: the commit still guards
                return fd
            err = _busy(target, fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise err from None
            raise _where_error(target, exc) from None
        try:  # the holder we waited for may have removed the file: lock the current one
            same = os.stat(lp).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            return fd
        os.close(fd)


def _lock_fd_excl(target: Path) -> int:  # pragma: no cover - exercised on non-POSIX systems only
    lp = lock_path(target)
    for _ in range(2):
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            try:
                pid = int(lp.read_text(encoding="ascii").strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _pid_alive(pid):
                raise MedsrError(
                    f"{target}: another medsr run (pid {pid}) is writing it; wait for it to end "
                    "or choose another output"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                lp.unlink()
            continue
        except OSError as exc:
            raise _where_error(target, exc) from None
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        return fd
    raise MedsrError(f"{target}: another medsr run is writing it; choose another output")


def _acquire(target: Path) -> bool:
    """Lock ``target`` for this thread; False when this thread already holds it (re-entry)."""
    key = os.path.abspath(target)
    me = threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            if held[0] != me:
                raise MedsrError(
                    f"{target}: another medsr run (pid {os.getpid()}) is writing it; wait for "
                    "it to end or choose another output"
                )
            _HELD[key] = (me, held[1] + 1, held[2])
            return False
        fd = _lock_fd(target)
        _HELD[key] = (me, 1, fd)
        return True


def _release(target: Path) -> None:
    key = os.path.abspath(target)
    with _HELD_GUARD:
        me, depth, fd = _HELD[key]
        if depth > 1:
            _HELD[key] = (me, depth - 1, fd)
            return
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            lock_path(target).unlink()  # while still locked: nobody can hold the old file
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def _stale(pid: str | None) -> bool:
    """A partial is stale when its writer is dead (or it predates PIDs in the name)."""
    return pid is None or not _pid_alive(int(pid))


def clean_stale_partials(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary partials a killed writer left beside ``target``; returns them.

    Only names of this module's scheme for this very target are considered, and only those whose
    writer (the PID in the name) is no longer running.
    """
    t = Path(target)
    own = re.compile(
        rf"^\.{re.escape(t.name)}\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{{8}}\.tmp(?:\..*)?$"
        rf"|^\.{re.escape(t.name)}\.old(?P<opid>\d+)$"
    )
    removed = []
    try:
        entries = list(os.scandir(t.parent))
    except OSError:
        return []
    for entry in entries:
        m = own.match(entry.name)
        if m and _stale(m.group("pid") if m.group("opid") is None else m.group("opid")):
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def clean_partials(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Remove every stale partial and unheld lock file in ``folder`` (a run folder, say).

    Returns:
        The removed paths.
    """
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for entry in list(os.scandir(root)):
        path = Path(entry.path)
        m = _PARTIAL.match(entry.name)
        if m:
            pid = m.group("pid") if m.group("oname") is None else m.group("opid")
            if _stale(pid):
                _remove(path)
                removed.append(path)
            continue
        lm = _LOCK.match(entry.name)
        if lm and entry.is_file(follow_symlinks=False):
            target = path.with_name(lm.group("name"))
            with contextlib.suppress(MedsrError):
                if _acquire(target):  # nobody holds it: the writer died
                    _release(target)
                    removed.append(path)
                else:
                    _release(target)
            continue
        if recursive and entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            removed += clean_partials(path, recursive=True)
    return removed


def check_free(target: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Refuse an existing ``target`` (a symlink, even a dangling one, counts) without overwrite.

    Raises:
        MedsrError: ``already exists; pass --overwrite to replace it``.
    """
    if not overwrite and os.path.lexists(target):
        raise MedsrError(f"{target}: already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def claim_outputs(
    targets: Iterable[str | os.PathLike[str]], *, overwrite: bool
) -> Iterator[list[Path]]:
    """Reserve output paths for this run before any work, and release them at the end.

    For each target: refuse it if it exists (unless ``overwrite``), create its folder, take its
    lock (refused while another run holds it) and remove stale partials of earlier killed runs.
    Folders created here are removed again if the block fails and leaves them empty. Claims
    nest: :func:`atomic_path` inside the block reuses them.

    Raises:
        MedsrError: An output exists, is being written by another run, or cannot be written
            (the message names the output path).
    """
    paths = list(dict.fromkeys(Path(t) for t in targets))  # in order: errors name the first
    for p in paths:
        check_free(p, overwrite=overwrite)
    created: list[Path] = []
    taken: list[Path] = []
    try:
        for p in paths:
            created += _make_parent(p.parent, p)
            _acquire(p)
            taken.append(p)
            check_free(p, overwrite=overwrite)  # it may have appeared before we took the lock
            clean_stale_partials(p)
        yield paths
    except BaseException:
        while taken:
            _release(taken.pop())
        for d in reversed(created):  # leave no empty folder behind a failed run
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    finally:
        while taken:
            _release(taken.pop())


def _commit(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Move the finished ``tmp`` to ``target``: replace, or link-or-fail without overwrite."""
    if overwrite:
        os.replace(tmp, target)
        return
    exists = MedsrError(
        f"{target}: already exists (another writer finished it first); "
        "pass --overwrite to replace it"
    )
    if tmp.is_dir():
        try:  # an exclusive empty placeholder, then an atomic rename onto it
            os.mkdir(target)
        except FileExistsError:
            raise exists from None
        try:
            os.replace(tmp, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.rmdir(target)
            raise exists from None
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise exists from None
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EMLINK,
            errno.EXDEV,
            errno.ENOSYS,
        ):
            raise
        try:  # no hard links here: reserve the name exclusively, then rename over it
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))
        except FileExistsError:
            raise exists from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _new_tmp(target: Path, *, folder: bool) -> Path:
    prefix = f".{target.name}.{os.getpid()}."
    try:
        if folder:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent))
            os.chmod(tmp, _DIR_MODE)
            return tmp
        fd, name = tempfile.mkstemp(
            prefix=prefix, suffix=f".tmp{_suffix(target)}", dir=target.parent
        )
    except OSError as exc:
        raise _where_error(target, exc) from None
    os.close(fd)
    return Path(name)


def _about(exc: OSError, tmp: Path, target: Path) -> bool:
    """Whether an OS error concerns the temporary path (or the commit to ``target``)."""
    names = [os.fspath(n) for n in (exc.filename, exc.filename2) if n is not None]
    return any(n.startswith(str(tmp)) or n == str(target) for n in names)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path; on success it is committed to ``target``, on failure removed.

    The temporary file keeps the target's extension (writers choose formats by it); the final
    file gets the permissions a plain ``open`` would give it (``0666`` minus the umask). The
    target is claimed for the duration (see :func:`claim_outputs`); without ``overwrite`` the
    commit fails rather than replace a file that appeared meanwhile.

    Args:
        target: Final output path. Its folder is created if missing.
        overwrite: If False and ``target`` exists, raise before writing anything.

    Raises:
        MedsrError: If ``target`` exists and ``overwrite`` is False, another run is writing it,
            or its folder cannot be written.
    """
    target = Path(target)
    with claim_outputs([target], overwrite=overwrite):
        tmp_path = _new_tmp(target, folder=False)
        try:
            yield tmp_path
            if tmp_path.is_file():
                os.chmod(tmp_path, _FILE_MODE)
            _commit(tmp_path, target, overwrite=overwrite)
        except OSError as exc:
            _remove(tmp_path)
            if _about(exc, tmp_path, target):  # say the user's path, not the hidden one
                raise _where_error(target, exc) from None
            raise
        except BaseException:
            _remove(tmp_path)
            raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Like :func:`atomic_path` for a folder (a DICOM series): yields a temporary folder.

    The folder gets the permissions a plain ``mkdir`` would give it (``0777`` minus the umask).
    With ``overwrite`` an existing target is moved aside, replaced, then deleted.
    """
    target = Path(target)
    with claim_outputs([target], overwrite=overwrite):
        tmp = _new_tmp(target, folder=True)
        try:
            yield tmp
            if overwrite and os.path.lexists(target):
                old = target.with_name(f".{target.name}.old{os.getpid()}")
                _remove(old)
                os.replace(target, old)
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.replace(old, target)
                    raise
                _remove(old)
            else:
                _commit(tmp, target, overwrite=False)
        except OSError as exc:
            _remove(tmp)
            if _about(exc, tmp, target):
                raise _where_error(target, exc) from None
            raise
        except BaseException:
            _remove(tmp)
            raise


def write_text_atomic(target: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> Path:
    """Write a text file atomically and return its path."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
