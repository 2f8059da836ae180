"""Tests that read optional system data (Debian packages) skip with the install command when it is absent."""

from __future__ import annotations

import pytest

from medsr.data import catalogue


def require_scans(*names: str) -> None:
    """Skip the calling test unless every named catalogue scan is installed; name the install command."""
    missing = [n for n in names if not catalogue.is_installed(n)]
    if missing:
        commands = sorted({catalogue.get(n).install for n in missing})
        pytest.skip(f"needs {', '.join(missing)}: {'; '.join(commands)} (or `make system-data`)")
