"""JSON sidecars written next to outputs (what was applied, with which parameters and seed)."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from medsr.io.atomic import claim_outputs, write_text_atomic


def _plain(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, tuples and paths to JSON types; non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return obj


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``out.nii.gz`` -> ``out.json`` (the image extension, ``.nii.gz`` included, is replaced)."""
    p = Path(output)
    name = p.name
    for ext in (".nii.gz", ".nii", ".npy", ".png", ".npz", ".h5"):
        if name.lower().endswith(ext):
            return p.with_name(name[: -len(ext)] + ".json")
    return p.with_name(name + ".json")


@contextlib.contextmanager
def claim_with_sidecar(output: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Claim ``output`` and its JSON sidecar before any work (see
    :func:`medsr.io.atomic.claim_outputs`); yields the output path."""
    path = Path(output)
    with claim_outputs([path, sidecar_path(path)], overwrite=overwrite):
        yield path


def write_json_sidecar(
    path: str | os.PathLike[str], data: dict[str, Any], *, overwrite: bool = False
) -> Path:
    """Write ``data`` as indented JSON, atomically.

    Args:
        path: The ``.json`` path (see :func:`sidecar_path` to derive it from an image path).
        data: JSON-able mapping; NumPy values, tuples and paths are converted.
        overwrite: Replace an existing file.

    Returns:
        The written path.

    Raises:
        MedsrError: If the file exists and ``overwrite`` is False.
    """
    text = json.dumps(_plain(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)
