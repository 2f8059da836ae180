"""Shared synthetic brains for the tissue-segmentation tests, and a loader for the benchmark
and script files the tests exercise."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def radius(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, r)``: voxel coordinates of an ``n``^3 cube in [-1, 1] and their radius."""
    g = (np.indices((n, n, n)) - (n - 1) / 2) / (n / 2)
    return g, np.sqrt((g**2).sum(axis=0))


def shells(n: int, radii: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, labels)``: label ``k + 1`` inside ``radii[k]`` (decreasing radii nest inward),
    0 outside the first."""
    g, r = radius(n)
    labels = np.zeros((n, n, n), dtype=np.int64)
    for k, rad in enumerate(radii):
        labels[r < rad] = k + 1
    return g, labels


def load_script(path: str) -> ModuleType:
    """Import ``benchmarks/*.py`` or ``scripts/*.py`` (not packages) as modules by file name."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
