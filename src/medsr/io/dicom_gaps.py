"""Gaps in a DICOM series: missing slices named, rounding jitter of the written positions accepted.

Positions are judged against the series' own precision: a scanner that writes
``ImagePositionPatient`` to 0.1 mm makes the gaps of an oblique series uneven by up to
``0.1 mm x (|nx| + |ny| + |nz|)`` (``n`` the slice normal), and that much is accepted
(plus 5 um and 0.5 % of the step). A gap close to ``k`` steps (``2 <= k <= 4``) is a missing
slice, named by InstanceNumber when the neighbours' numbers say which, else by position; other
unevenness is refused with the tolerance (``--slice-tolerance`` / ``slice_tolerance=``) that would
accept it at the mean spacing. Without positions, a jump in otherwise even InstanceNumbers is a
missing slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medsr.errors import InputError


def instance(ds: Any) -> int | None:
    """The dataset's InstanceNumber, or None when absent or not an integer."""
    try:
        value = ds.get("InstanceNumber")
        return None if value is None or str(value).strip() == "" else int(value)
    except (TypeError, ValueError):
        return None


def _position_quantum(datasets: Sequence[tuple[str, Any]]) -> float:
    """Rounding step of the written ``ImagePositionPatient`` values: ``10**-d`` for the most decimal
    places any value is written with, at most 1e-6."""
    decimals = 0
    for _, ds in datasets:
        for value in ds.get("ImagePositionPatient") or ():
            text = str(getattr(value, "original_string", None) or repr(float(value))).lower()
            if "e" in text:
                return 1e-6
            if "." in text:
                decimals = max(decimals, len(text.split(".", 1)[1].strip()))
    return 10.0 ** -min(decimals, 6)


def check_slice_tolerance(tolerance: float | None, source: Path) -> None:
    """Refuse a negative or non-finite tolerance (naming ``source``)."""
    if tolerance is not None and not (tolerance >= 0 and np.isfinite(tolerance)):
        raise InputError(source, f"slice tolerance must be >= 0 mm, got {tolerance!r}")


def _missing_label(ordered: Sequence[tuple[str, Any]], i: int, k: int, before: int) -> str:
    """Which slices are missing in the gap after ``ordered[i]`` (``k`` steps wide)."""
    inst = [instance(ds) for _, ds in ordered]
    if all(v is not None for v in inst) and len(set(inst)) == len(inst):
        diffs = np.diff(np.asarray(inst, dtype=np.int64))
        d = int(np.median(diffs))
        a, b = inst[i], inst[i + 1]
        assert a is not None and b is not None
        if d != 0 and b - a == k * d:
            numbers = ", ".join(str(a + j * d) for j in range(1, k))
            return f"InstanceNumber {numbers}"
    first = i + 2 + before
    numbers = ", ".join(str(first + j) for j in range(k - 1))
    total = len(ordered) + before + k - 1
    return f"slice {numbers} of at least {total} in position order"


def check_spacing(
    ordered: Sequence[tuple[str, Any]],
    z: np.ndarray,
    normal: np.ndarray,
    source: Path,
    tolerance: float | None,
) -> None:
    """Even slice positions, up to the rounding of the written positions (or ``tolerance`` mm).

    A gap close to ``k`` steps (``k >= 2``) is a missing slice and names it; other unevenness
    beyond the tolerance is refused with the tolerance that would accept it.
    """
    gaps = np.diff(z)
    quantum = _position_quantum(ordered)
    rounding = float(np.abs(normal).sum()) * quantum  # a gap's worst error from the rounding
    step0 = float(np.sort(gaps)[(len(gaps) - 1) // 2])  # lower median: right with 2 gaps too
    tol = tolerance if tolerance is not None else 0.005 + 0.005 * step0 + rounding
    k = np.maximum(1, np.rint(gaps / step0)).astype(np.int64)
    step = float(gaps.sum() / k.sum())
    dev = np.abs(gaps - k * step)
    if np.all(k == 1) and dev.max() <= tol:
        return
    missing = np.flatnonzero((k >= 2) & (k <= 4) & (dev <= max(tol, 0.2 * step)))
    if missing.size:
        i = int(missing[0])
        before = int((k[:i] - 1).sum())
        more = f" (and {missing.size - 1} more gaps)" if missing.size > 1 else ""
        raise InputError(
            source,
            f"missing slice: {_missing_label(ordered, i, int(k[i]), before)} "
            f"({gaps[i]:.4g} mm gap = {k[i]} x {step:.4g} mm between {ordered[i][0]} and "
            f"{ordered[i + 1][0]}){more}; restore the missing file(s)",
        )
    even = np.abs(gaps - gaps.mean())
    spread = f"uneven slice spacing {gaps.min():.4g}..{gaps.max():.4g} mm"
    if even.max() > 0.25 * gaps.mean():
        raise InputError(source, f"{spread} (missing slices, or several stacks?); pass one series")
    inst = [instance(ds) for _, ds in ordered]
    note = ""
    if all(v is not None for v in inst):
        numbers = np.asarray(inst, dtype=np.int64)
        if np.all(np.abs(np.diff(numbers)) == 1):
            note = f"; InstanceNumber {numbers.min()}-{numbers.max()} is continuous"
    explained = (
        f"the {tol:.3g} mm given"
        if tolerance is not None
        else f"the {tol:.3g} mm that {quantum:g} mm position rounding explains"
    )
    raise InputError(
        source,
        f"{spread} ({even.max():.3g} mm from even, beyond {explained}){note}; pass "
        f"--slice-tolerance {_ceil2(even.max())} (slice_tolerance=) to accept it at the mean spacing",
    )


def _ceil2(x: float) -> str:
    """``x`` rounded up to two significant digits, as text."""
    if x <= 0:
        return "0"
    e = int(np.floor(np.log10(x))) - 1
    up = np.ceil(x / 10.0**e - 1e-6) * 10.0**e  # 0.30000001 -> 0.3
    return f"{round(float(up), max(0, -e)):g}"


def check_instances(ordered: Sequence[tuple[str, Any]], source: Path) -> None:
    """Without positions: a jump in otherwise even InstanceNumbers is a missing slice."""
    inst = [instance(ds) for _, ds in ordered]
    if len(inst) < 3 or any(v is None for v in inst) or len(set(inst)) != len(inst):
        return
    diffs = np.diff(np.asarray(inst, dtype=np.int64))
    d = int(np.min(diffs))
    if d <= 0 or np.all(diffs == d):
        return
    i = int(np.flatnonzero(diffs != d)[0])
    if diffs[i] % d == 0:
        k = int(diffs[i] // d)
        raise InputError(
            source,
            f"missing slice: {_missing_label(ordered, i, k, 0)} (InstanceNumber jumps from "
            f"{inst[i]} to {inst[i + 1]} between {ordered[i][0]} and {ordered[i + 1][0]}); "
            "restore the missing file(s)",
        )
