"""A case's perception-distortion section: metrics of ``--gan-weight`` blends against A.

``medsr demo`` writes ``gan_weight_curve.json`` into a case folder when the case's GAN model has
its content-loss (PSNR) partner installed (:mod:`medsr.demo_curve`): PSNR, SSIM and HFEN of the
network-interpolated model ``(1 - A) * psnr + A * gan`` at a few values of A, on a fixed crop,
under the case's protocols. This module reads that file (one-line errors naming it) and turns
it into three small line charts and a table per protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsr.errors import InputError
from medsr.report.doc import SVG, Asset, Block, Cell, Charts, Heading, Row, Table, Text
from medsr.report.sources import read_json_file
from medsr.report.svg import PALETTE, Series, line_chart
from medsr.report.tables import (
    METRIC_LABELS,
    best_flags,
    format_value,
    higher_is_better,
    metric_header,
)

TITLE = "Perception-distortion control (--gan-weight)"
#: The curve's metrics in display order, when the file does not list them.
DEFAULT_METRICS = ("psnr", "ssim", "hfen")
_CHART_W, _CHART_H = 270, 230


@dataclass(frozen=True)
class GanWeightCurve:
    """The content of a ``gan_weight_curve.json`` file.

    Attributes:
        path: The file.
        model: The GAN model (A = 1).
        psnr_model: Its content-loss partner (A = 0).
        protocol: The primary protocol (the charts use it).
        metrics: Metric names of the points, in display order.
        per_protocol: Protocol -> points, each ``{"gan_weight": A, metric: value}`` sorted by A
            (NaN where the file holds null).
        crop: What the points were measured on.
        evaluation: How the crop was evaluated (3D, or per slice and averaged).
        data_consistency: Whether the k-space data-consistency step was applied (None: the
            model has none).
        command: The command that applies one value of A.
    """

    path: Path
    model: str
    psnr_model: str
    protocol: str
    metrics: list[str]
    per_protocol: dict[str, list[dict[str, float]]]
    crop: str
    evaluation: str
    data_consistency: bool | None
    command: str

    @property
    def points(self) -> list[dict[str, float]]:
        """The points under the primary protocol."""
        return self.per_protocol[self.protocol]


def _points(path: Path, raw: Any, key: str, metrics: list[str]) -> list[dict[str, float]]:
    if not isinstance(raw, list) or not raw:
        raise InputError(path, f"'{key}' must be a non-empty list of points")
    out = []
    for i, p in enumerate(raw):
        a = p.get("gan_weight") if isinstance(p, dict) else None
        if not isinstance(a, int | float) or not 0.0 <= a <= 1.0:
            raise InputError(path, f"'{key}[{i}].gan_weight' must be a number in [0, 1]")
        point = {"gan_weight": float(a)}
        for m in metrics:
            v = p.get(m)
            if v is not None and not isinstance(v, int | float):
                raise InputError(path, f"'{key}[{i}].{m}' must be a number or null, got {v!r}")
            point[m] = float(v) if v is not None else math.nan
        out.append(point)
    return sorted(out, key=lambda q: q["gan_weight"])


def load_gan_weight_curve(path: Path) -> GanWeightCurve:
    """Read and check a ``gan_weight_curve.json`` file.

    Raises:
        InputError: Naming the file for a missing file, invalid JSON or a bad field.
    """
    data = read_json_file(path, "gan_weight_curve.json (the --gan-weight curve of medsr demo)")
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    protocol = data.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        raise InputError(path, "'protocol' must name the primary protocol")
    metrics = data.get("metrics", list(DEFAULT_METRICS))
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise InputError(path, "'metrics' must be a list of metric names")
    per_raw = data.get("per_protocol") or {}
    if not isinstance(per_raw, dict):
        raise InputError(path, "'per_protocol' must map protocol names to lists of points")
    per = {protocol: _points(path, data.get("points"), "points", metrics)}
    for name, pts in per_raw.items():
        if name != protocol:
            per[str(name)] = _points(path, pts, f"per_protocol.{name}", metrics)
    crop = data.get("crop")
    crop_text = str(crop.get("text", "")) if isinstance(crop, dict) else str(crop or "")
    model = str(data.get("model", "") or "")
    return GanWeightCurve(
        path=path,
        model=model,
        psnr_model=str(data.get("psnr_model", "") or ""),
        protocol=protocol,
        metrics=list(metrics),
        per_protocol=per,
        crop=crop_text or "a crop of the case",
        evaluation=str(data.get("evaluation", "") or ""),
        data_consistency=None
        if data.get("data_consistency") is None
        else bool(data["data_consistency"]),
        command=str(
            data.get("command")
            or f"medsr enhance IN --model {model or 'MODEL'} --gan-weight A -o OUT"
        ),
    )


def _chart(curve: GanWeightCurve, metric: str, name: str) -> Asset:
    pts = curve.points
    label = METRIC_LABELS.get(metric, metric)
    arrow = "↑" if higher_is_better(metric) else "↓"
    svg = line_chart(
        [
            Series(
                curve.protocol,
                [p["gan_weight"] for p in pts],
                [p[metric] for p in pts],
                PALETTE[0],
                width=2.0,
                markers=True,
            )
        ],
        title=f"{label} {arrow}",
        xlabel="A (--gan-weight)",
        width=_CHART_W,
        height=_CHART_H,
        ident=name.replace(".", "-"),
    )
    return Asset(name, svg.encode("utf-8"), SVG, _CHART_W, _CHART_H)


def _role(curve: GanWeightCurve, a: float) -> str:
    if a == 0.0:
        return f"= {curve.psnr_model}" if curve.psnr_model else "= PSNR model"
    if a == 1.0:
        return f"= {curve.model} (as trained)" if curve.model else "= GAN model"
    return "blend"


def curve_table(curve: GanWeightCurve, protocol: str) -> Table:
    """The points under one protocol: A, which model it is, the metrics (best of each bold)."""
    pts = curve.per_protocol[protocol]
    metrics = [m for m in curve.metrics if any(math.isfinite(p[m]) for p in pts)]
    flags = {
        m: best_flags(m, [p[m] if math.isfinite(p[m]) else None for p in pts]) for m in metrics
    }
    rows = []
    for i, p in enumerate(pts):
        cells = [Cell(f"{p['gan_weight']:g}"), Cell(_role(curve, p["gan_weight"]))]
        cells += [Cell(format_value(m, p[m]), bold=flags[m][i]) for m in metrics]
        rows.append(Row(cells, highlight=p["gan_weight"] == 1.0))
    primary = " (primary)" if protocol == curve.protocol else ""
    return Table(
        caption=f"--gan-weight curve, protocol “{protocol}”{primary}",
        columns=["A", "model", *(metric_header(m) for m in metrics)],
        rows=rows,
        numeric_from=2,
    )


def gan_weight_blocks(curve: GanWeightCurve, prefix: str, *, level: int = 4) -> list[Block]:
    """Heading, explanation, one chart per metric (primary protocol) and a table per protocol.

    Args:
        curve: The case's curve.
        prefix: File-name-safe prefix of the chart assets (unique per case).
        level: Heading level.
    """
    psnr = curve.psnr_model or "its PSNR model"
    gan = curve.model or "the GAN model"
    blocks: list[Block] = [Heading(level, TITLE, anchor=f"{prefix.replace('_', '-')}-gan-weight")]
    blocks.append(
        Text(
            f"A blends the weights of {gan} with those of its content-loss (PSNR) stage {psnr}: "
            "θ = (1 − A)·θ_PSNR + A·θ_GAN (network interpolation, Wang et al., ESRGAN, sec. "
            f"3.4). A = 0 is {psnr}, A = 1 is {gan} as trained; values in between trade "
            "distortion (PSNR and SSIM ↑, HFEN ↓) against the GAN's texture without retraining. "
            f"Apply a chosen A with: {curve.command}"
        )
    )
    how = f" ({curve.evaluation})" if curve.evaluation else ""
    dc = ""
    if curve.data_consistency is not None:
        dc = f", {'with' if curve.data_consistency else 'without'} the data-consistency step"
    blocks.append(
        Text(
            f"Measured on {curve.crop}{how}{dc}, the model run on the crop alone. The numbers "
            "are for this crop, not the whole volume: compare the points with each other, not "
            "with the case tables.",
            style="muted",
        )
    )
    metrics = [m for m in curve.metrics if any(math.isfinite(p[m]) for p in curve.points)]
    charts = [_chart(curve, m, f"{prefix}_ganweight_{m}.svg") for m in metrics]
    if charts:
        blocks.append(Charts(charts, caption=f"Protocol “{curve.protocol}” (primary) against A."))
    blocks.extend(curve_table(curve, p) for p in curve.per_protocol)
    return blocks
