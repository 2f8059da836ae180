"""Training curves from a ``medsr train`` log: losses vs step and validation metrics vs step.

``log.jsonl`` holds one JSON object per line. Step rows carry numeric losses (keys starting
with ``g_`` or ``d_``); event rows carry ``"event"``: ``"validation"`` and ``"baseline"`` (the
same metrics for the untouched low-quality input) are plotted, the others are ignored. A run
still being written may end in a partial line; unreadable lines are skipped and counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medsr.errors import InputError
from medsr.metrics.aggregate import METRIC_ORDER
from medsr.report.doc import SVG, Asset, Block, Cell, Charts, Heading, Row, Table, Text
from medsr.report.svg import PALETTE, HLine, Series, line_chart
from medsr.report.tables import best_flags, format_value, higher_is_better, metric_header


@dataclass
class TrainLog:
    """The parsed content of one training run.

    Attributes:
        name: Display name (the run folder's name).
        path: The ``log.jsonl`` file.
        steps: Step rows: ``step`` plus every finite numeric field.
        validation: Validation rows: ``step`` plus the metrics.
        baseline: Metrics of the low-quality input, or None.
        summary: ``summary.json`` (or the log's summary event), or None while the run is going.
        config_name: ``name`` from ``config.yaml``.
        generator: The generator's registry name from ``config.yaml``.
        skipped: Number of unreadable lines.
    """

    name: str
    path: Path
    steps: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    baseline: dict[str, float] | None = None
    summary: dict[str, Any] | None = None
    config_name: str = ""
    generator: str = ""
    skipped: int = 0


def _numbers(row: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = float(v)
    return out


def _config(path: Path) -> tuple[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    gen = ((data.get("networks") or {}).get("generator") or {}).get("name", "")
    return str(data.get("name", "") or ""), str(gen or "")


def load_train_log(path: Path, name: str = "") -> TrainLog:
    """Read a training run folder (``log.jsonl``, ``summary.json``, ``config.yaml``) or a log file.

    Raises:
        InputError: If the log is missing or holds neither step nor validation rows.
    """
    folder = path if path.is_dir() else None
    log = path / "log.jsonl" if folder is not None else path
    if not log.is_file():
        raise InputError(log, "missing training log (medsr train writes log.jsonl)")
    run = TrainLog(name=name or (folder.name if folder is not None else log.parent.name), path=log)
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(log, f"cannot read: {exc.strerror or exc}") from None
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            run.skipped += 1
            continue
        if not isinstance(row, dict):
            run.skipped += 1
            continue
        event = row.get("event")
        nums = _numbers(row)
        if event is None and "step" in nums:
            run.steps.append(nums)
        elif event == "validation" and "step" in nums:
            run.validation.append(nums)
        elif event == "baseline":
            run.baseline = {k: v for k, v in nums.items() if k not in ("time", "step")}
        elif event == "summary":
            run.summary = row
    if not run.steps and not run.validation:
        raise InputError(log, "no step or validation rows; is it a medsr train log.jsonl?")
    if folder is not None:
        summary = folder / "summary.json"
        if summary.is_file():
            try:
                data = json.loads(summary.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    run.summary = data
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(summary, "invalid JSON") from None
        if (folder / "config.yaml").is_file():
            run.config_name, run.generator = _config(folder / "config.yaml")
    if run.baseline is None and run.summary and isinstance(run.summary.get("baseline"), dict):
        run.baseline = _numbers(run.summary["baseline"])
    return run


def ema(values: np.ndarray, span: float) -> np.ndarray:
    """Exponential moving average (``alpha = 2 / (span + 1)``) that skips NaN values."""
    alpha = 2.0 / (max(span, 1.0) + 1.0)
    out = np.empty_like(values, dtype=float)
    acc = math.nan
    for i, v in enumerate(values.tolist()):
        if math.isfinite(v):
            acc = v if math.isnan(acc) else acc + alpha * (v - acc)
        out[i] = acc
    return out


def smooth(values: np.ndarray, span: float, *, log: bool = False) -> np.ndarray:
    """Zero-lag smoothing: the mean of a forward and a backward :func:`ema` (in log space if ``log``)."""
    v = np.log(np.where(values > 0, values, np.nan)) if log else values.astype(float)
    out = 0.5 * (ema(v, span) + ema(v[::-1], span)[::-1])
    return np.exp(out) if log else out


def loss_groups(run: TrainLog) -> list[tuple[str, list[str]]]:
    """Loss keys of the step rows: positive generator losses, then signed / discriminator terms.

    Generator losses (``g_``) that stay positive share a log-scale chart; generator terms that
    change sign (e.g. a WGAN adversarial term) join the discriminator's (``d_``) chart.
    """
    keys: list[str] = []
    for row in run.steps:
        keys.extend(k for k in row if k not in keys and k[:2] in ("g_", "d_"))

    def positive(key: str) -> bool:
        return all(r[key] > 0 for r in run.steps if key in r)

    gen = [k for k in keys if k.startswith("g_") and positive(k)]
    rest = [k for k in keys if k.startswith("g_") and k not in gen]
    rest += [k for k in keys if k.startswith("d_")]
    title = (
        "discriminator / critic" if all(k.startswith("d_") for k in rest) else "adversarial terms"
    )
    groups = [("generator losses", gen), (title, rest)]
    return [(t, ks) for t, ks in groups if ks]


def loss_chart(run: TrainLog, title: str, keys: list[str], asset_name: str) -> Asset:
    """Raw (faint) and smoothed (solid) curves of ``keys`` vs step; log y when all are positive."""
    steps = np.asarray([r["step"] for r in run.steps], dtype=float)
    curves = [np.asarray([r.get(k, math.nan) for r in run.steps], dtype=float) for k in keys]
    positive = all(bool(np.all(y[np.isfinite(y)] > 0)) and np.isfinite(y).any() for y in curves)
    series: list[Series] = []
    for i, (key, y) in enumerate(zip(keys, curves)):
        color = PALETTE[i % len(PALETTE)]
        series.append(Series(key, steps, y, color, width=1.0, opacity=0.28, legend=False))
        trend = smooth(y, max(1.0, len(y) / 40), log=positive)
        series.append(Series(key, steps, trend, color, width=1.8))
    svg = line_chart(
        series,
        title=f"{run.name}: {title}",
        xlabel="step",
        ylabel="loss (log scale)" if positive else "loss",
        width=560,
        height=300,
        log_y=positive,
        ident=asset_name.replace(".", "-"),
    )
    return _svg_asset(asset_name, svg, 560, 300)


def validation_chart(run: TrainLog, metric: str, asset_name: str) -> Asset:
    """Validation ``metric`` vs step with the low-quality input as a dashed line."""
    steps = [r["step"] for r in run.validation if metric in r]
    values = [r[metric] for r in run.validation if metric in r]
    hlines = []
    if run.baseline and metric in run.baseline:
        hlines.append(HLine(run.baseline[metric], "low-quality input"))
    arrow = "↑" if higher_is_better(metric) else "↓"
    svg = line_chart(
        [Series("validation", steps, values, PALETTE[0], width=2.0, markers=True)],
        title=f"validation {metric.upper()} {arrow}",
        xlabel="step",
        width=270,
        height=230,
        hlines=hlines,
        ident=asset_name.replace(".", "-"),
    )
    return _svg_asset(asset_name, svg, 270, 230)


def _svg_asset(name: str, svg: str, width: int, height: int) -> Asset:
    return Asset(name=name, data=svg.encode("utf-8"), mime=SVG, width=width, height=height)


def final_table(run: TrainLog) -> Table | None:
    """Baseline, last and best validation value per metric (best with its step)."""
    if not run.validation:
        return None
    metrics = [m for m in METRIC_ORDER if any(m in r for r in run.validation)]
    metrics += [
        k
        for r in run.validation
        for k in r
        if k not in metrics and k not in ("time", "step", "improved")
    ]
    metrics = list(dict.fromkeys(metrics))
    last = run.validation[-1]
    rows_data: list[tuple[str, list[float | None], list[str]]] = []
    if run.baseline:
        vals = [run.baseline.get(m) for m in metrics]
        rows_data.append(("low-quality input (baseline)", vals, [""] * len(metrics)))
    rows_data.append(
        (
            f"last validation (step {int(last['step'])})",
            [last.get(m) for m in metrics],
            [""] * len(metrics),
        )
    )
    best_vals: list[float | None] = []
    best_steps: list[str] = []
    for m in metrics:
        pts = [(r[m], r["step"]) for r in run.validation if m in r]
        if not pts:
            best_vals.append(None)
            best_steps.append("")
            continue
        v, s = max(pts, key=lambda p: p[0]) if higher_is_better(m) else min(pts, key=lambda p: p[0])
        best_vals.append(v)
        best_steps.append(f" (step {int(s)})")
    rows_data.append(("best validation", best_vals, best_steps))
    flags = [best_flags(m, [r[1][j] for r in rows_data]) for j, m in enumerate(metrics)]
    rows = []
    for i, (label, vals, notes) in enumerate(rows_data):
        cells = [Cell(label)]
        for j, m in enumerate(metrics):
            value = vals[j]
            text = "—" if value is None else format_value(m, value) + notes[j]
            cells.append(Cell(text, bold=flags[j][i]))
        rows.append(Row(cells, highlight=label.startswith("best")))
    return Table(
        caption=f"{run.name}: validation metrics (the run's own validation protocol and crops)",
        columns=["", *(metric_header(m) for m in metrics)],
        rows=rows,
    )


def training_blocks(run: TrainLog, prefix: str, level: int = 3) -> list[Block]:
    """Heading, facts, loss charts, validation charts and the final table of one run."""
    blocks: list[Block] = [Heading(level, f"Training run: {run.name}", anchor=f"{prefix}-train")]
    facts = []
    if run.config_name:
        facts.append(f"config {run.config_name}")
    if run.generator:
        facts.append(f"generator {run.generator}")
    if run.steps:
        facts.append(f"{int(run.steps[-1]['step'])} steps logged")
    if run.summary and isinstance(run.summary.get("seconds"), int | float):
        facts.append(f"{run.summary['seconds']:.0f} s")
    facts.append("finished" if run.summary else "no summary yet (still running or interrupted)")
    if run.skipped:
        facts.append(f"{run.skipped} unreadable log line{'s' if run.skipped > 1 else ''} skipped")
    blocks.append(Text(" · ".join(facts), style="muted"))
    charts = [
        loss_chart(run, title, keys, f"{prefix}_loss_{i}.svg")
        for i, (title, keys) in enumerate(loss_groups(run))
    ]
    if charts:
        blocks.append(
            Charts(
                charts,
                caption="Faint: every logged step; solid: smoothed (forward-backward exponential average).",
            )
        )
    metrics = [m for m in METRIC_ORDER if any(m in r for r in run.validation)]
    if metrics:
        blocks.append(
            Charts(
                [validation_chart(run, m, f"{prefix}_val_{m}.svg") for m in metrics],
                caption="Validation metrics during training; dashed: the low-quality input.",
            )
        )
    table = final_table(run)
    if table is not None:
        blocks.append(table)
    return blocks
