"""Per-case results, mean +- std per method, and their JSON / CSV files.

The standard deviation is the *population* standard deviation (``ddof=0``, numpy's default),
which is what the reports we reproduce print; ``n`` is stored next to it, so the sample value is
``std * sqrt(n / (n - 1))``. A PSNR of ``inf`` (identical images) makes the mean ``inf`` and the
std ``nan``: nothing is capped. In JSON, non-finite numbers are written as the strings
``"inf"``, ``"-inf"`` and ``"nan"`` (strict JSON has no such numbers) and read back as floats.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsr.io.atomic import write_text_atomic

#: Metric columns in display order; others follow in order of first appearance.
METRIC_ORDER: tuple[str, ...] = (
    "psnr",
    "ssim",
    "nrmse",
    "mae",
    "hfen",
    "dice_csf",
    "dice_gm",
    "dice_wm",
    "dice_mean",
)
_KEYS = ("case", "method", "protocol")


@dataclass(frozen=True)
class CaseResult:
    """Metrics of one case (one prediction against its reference)."""

    case: str
    method: str
    protocol: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Summary:
    """Mean and population std of each metric over the cases of one method and protocol."""

    method: str
    protocol: str
    n: int
    mean: dict[str, float]
    std: dict[str, float]


def metric_names(rows: Sequence[CaseResult]) -> list[str]:
    """Metric names present in ``rows``: :data:`METRIC_ORDER` first, then the rest."""
    seen: list[str] = []
    for row in rows:
        seen.extend(k for k in row.metrics if k not in seen)
    return [k for k in METRIC_ORDER if k in seen] + [k for k in seen if k not in METRIC_ORDER]


def summarize(rows: Sequence[CaseResult]) -> list[Summary]:
    """Group rows by (method, protocol), in order of first appearance, and aggregate.

    Args:
        rows: Per-case results.

    Returns:
        One :class:`Summary` per group; a metric missing from some rows is averaged over the
        rows that have it.
    """
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for row in rows:
        groups.setdefault((row.method, row.protocol), []).append(row)
    out = []
    for (method, protocol), members in groups.items():
        mean: dict[str, float] = {}
        std: dict[str, float] = {}
        for name in metric_names(members):
            values = np.array([m.metrics[name] for m in members if name in m.metrics], dtype=float)
            with np.errstate(invalid="ignore"):
                mean[name] = float(np.mean(values))
                std[name] = float(np.std(values))
        out.append(Summary(method, protocol, len(members), mean, std))
    return out


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _decode(value: Any) -> float:
    return float(value)


def _cell(values: dict[str, float], key: str) -> str:
    """A CSV cell: the float in round-trip form, empty when missing."""
    return repr(float(values[key])) if key in values else ""


def results_to_dict(rows: Sequence[CaseResult]) -> dict[str, Any]:
    """A JSON-ready dict ``{"cases": [...], "summary": [...]}``."""
    cases = [
        {
            "case": r.case,
            "method": r.method,
            "protocol": r.protocol,
            "metrics": {k: _encode(v) for k, v in r.metrics.items()},
        }
        for r in rows
    ]
    summary = [
        {
            "method": s.method,
            "protocol": s.protocol,
            "n": s.n,
            "mean": {k: _encode(v) for k, v in s.mean.items()},
            "std": {k: _encode(v) for k, v in s.std.items()},
        }
        for s in summarize(rows)
    ]
    return {"cases": cases, "summary": summary}


def results_from_dict(data: dict[str, Any]) -> list[CaseResult]:
    """Per-case rows back from :func:`results_to_dict`'s layout (the summary is recomputed).

    Raises:
        ValueError: If the layout is not the expected one.
    """
    try:
        return [
            CaseResult(
                case=str(c["case"]),
                method=str(c["method"]),
                protocol=str(c["protocol"]),
                metrics={k: _decode(v) for k, v in c["metrics"].items()},
            )
            for c in data["cases"]
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a medsr results document: missing or bad field {exc}") from None


def write_json(
    path: str | os.PathLike[str], rows: Sequence[CaseResult], *, overwrite: bool = True
) -> Path:
    """Write cases and summary as JSON, atomically."""
    text = json.dumps(results_to_dict(rows), indent=2, allow_nan=False) + "\n"
    return write_text_atomic(path, text, overwrite=overwrite)


def read_json(path: str | os.PathLike[str]) -> list[CaseResult]:
    """Read the per-case rows written by :func:`write_json`."""
    return results_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def cases_to_csv(rows: Sequence[CaseResult]) -> str:
    """One CSV line per case: ``case,method,protocol,<metrics...>`` (floats in round-trip form)."""
    names = metric_names(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*_KEYS, *names])
    for r in rows:
        writer.writerow([r.case, r.method, r.protocol, *(_cell(r.metrics, k) for k in names)])
    return buf.getvalue()


def cases_from_csv(text: str) -> list[CaseResult]:
    """Rows back from :func:`cases_to_csv` text (empty cells are missing metrics).

    Raises:
        ValueError: If the header lacks ``case``, ``method`` or ``protocol``.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if any(k not in header for k in _KEYS):
        raise ValueError(f"CSV header must start with {', '.join(_KEYS)}; got {header}")
    names = [h for h in header if h not in _KEYS]
    return [
        CaseResult(
            case=line["case"],
            method=line["method"],
            protocol=line["protocol"],
            metrics={k: float(line[k]) for k in names if line[k]},
        )
        for line in reader
    ]


def summary_to_csv(rows: Sequence[CaseResult]) -> str:
    """One CSV line per (method, protocol): ``method,protocol,n,<metric>_mean,<metric>_std...``."""
    names = metric_names(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["method", "protocol", "n", *(f"{k}_{s}" for k in names for s in ("mean", "std"))]
    )
    for s in summarize(rows):
        stats = [_cell(d, k) for k in names for d in (s.mean, s.std)]
        writer.writerow([s.method, s.protocol, s.n, *stats])
    return buf.getvalue()


def write_csv(
    path: str | os.PathLike[str], rows: Sequence[CaseResult], *, overwrite: bool = True
) -> Path:
    """Write the per-case CSV atomically."""
    return write_text_atomic(path, cases_to_csv(rows), overwrite=overwrite)


def read_csv(path: str | os.PathLike[str]) -> list[CaseResult]:
    """Read a per-case CSV written by :func:`write_csv`."""
    return cases_from_csv(Path(path).read_text(encoding="utf-8"))
