"""Atomic writes: all or nothing, and ordinary file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medsr.errors import MedsrError
from medsr.io.atomic import atomic_path, write_text_atomic


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
