"""Metric tables: direction arrows, number formats, best-per-column bold, the model row highlighted."""

from __future__ import annotations

import math
from collections.abc import Sequence

from medsr.metrics.aggregate import CaseResult, metric_names, summarize
from medsr.report.doc import Cell, Row, Table

#: Substrings of metric names for which a lower value is better.
LOWER_IS_BETTER = ("nrmse", "rmse", "mse", "mae", "hfen", "lpips", "fid", "error", "loss", "niqe")
#: Display names of the usual metrics.
METRIC_LABELS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "nrmse": "NRMSE",
    "mae": "MAE",
    "hfen": "HFEN",
    "dice_csf": "Dice CSF",
    "dice_gm": "Dice GM",
    "dice_wm": "Dice WM",
    "dice_mean": "Dice mean",
}


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (PSNR, SSIM) or worse (NRMSE, MAE)."""
    name = metric.lower()
    return not any(token in name for token in LOWER_IS_BETTER)


def metric_header(metric: str) -> str:
    """Column header with an arrow: ``"PSNR (dB) ↑"``, ``"NRMSE ↓"``."""
    label = METRIC_LABELS.get(metric, metric)
    return f"{label} {'↑' if higher_is_better(metric) else '↓'}"


def format_value(metric: str, value: float) -> str:
    """A metric value as the tables print it: PSNR with 2 decimals, SSIM and Dice with 4, others
    by size."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if metric == "psnr":
        return f"{value:.2f}"
    if metric == "ssim" or metric.startswith("dice_"):
        return f"{value:.4f}"
    a = abs(value)
    if a == 0:
        return "0"
    if a < 0.01:
        return f"{value:.3g}"
    if a < 1:
        return f"{value:.4f}"
    if a < 100:
        return f"{value:.2f}"
    if a < 1000:
        return f"{value:.1f}"
    return f"{value:.0f}"


def format_delta(metric: str, delta: float, reference: float | None = None) -> str:
    """A signed difference with the metric's usual decimals: ``"+0.35"``, ``"−0.0012"``.

    PSNR gets 2 decimals, SSIM and NRMSE (at least) 4; other metrics take the decimals that
    :func:`format_value` gives ``reference`` (the value the difference is taken from), or
    of ``delta`` itself. The sign is ``+`` or a true minus ``−``; a negative difference too
    small for the decimals reads ``−0.00`` (it is still worse, not equal).
    """
    if math.isnan(delta):
        return "n/a"
    if math.isinf(delta):
        return "+∞" if delta > 0 else "−∞"
    sign = "−" if delta < 0 else "+"
    base = reference if reference is not None and math.isfinite(reference) else delta
    text = format_value(metric, abs(base) if base != 0 else abs(delta))
    if "e" in text or text == "0":
        return f"{sign}{abs(delta):.3g}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    if metric == "nrmse":
        decimals = max(4, decimals)
    return f"{sign}{abs(delta):.{decimals}f}"


def format_mean_std(metric: str, mean: float, std: float, n: int) -> str:
    """``"mean ± std"`` (population std, with the mean's decimals); just the mean when ``n == 1``."""
    text = format_value(metric, mean)
    if n <= 1:
        return text
    if not math.isfinite(std) or "e" in text or text.startswith(("0.00", "-0.00")):
        return f"{text} ± {format_value(metric, std)}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{text} ± {std:.{decimals}f}"


def best_flags(metric: str, values: Sequence[float | None]) -> list[bool]:
    """Which entries hold the best finite value of the column (ties all count)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if len(finite) < 2:
        return [False] * len(values)
    best = max(finite) if higher_is_better(metric) else min(finite)
    return [v is not None and v == best for v in values]


def order_methods(
    methods: Sequence[str], baselines: Sequence[str], models: Sequence[str]
) -> list[str]:
    """Baselines first (in the cases' order), then other methods, then the models last."""
    present = list(dict.fromkeys(methods))
    head = [m for m in baselines if m in present]
    tail = [m for m in models if m in present and m not in head]
    middle = [m for m in present if m not in head and m not in tail]
    return head + middle + tail


def _method_label(method: str, notes: dict[str, str]) -> str:
    note = notes.get(method)
    return f"{method} ({note})" if note else method


def summary_tables(
    rows: Sequence[CaseResult],
    *,
    baselines: Sequence[str] = (),
    models: Sequence[str] = (),
    notes: dict[str, str] | None = None,
    caption_suffix: str = "",
) -> list[Table]:
    """One table per protocol: mean ± population std per method over the cases.

    Args:
        rows: Per-case results.
        baselines: Baseline method names (listed first).
        models: Model method names (listed last and highlighted).
        notes: Extra words shown after a method name, e.g. ``{"zero-filled": "= input"}``.
        caption_suffix: Text appended to every caption.

    Returns:
        The tables, in order of the protocols' first appearance.
    """
    notes = notes or {}
    summaries = summarize(rows)
    protocols = list(dict.fromkeys(s.protocol for s in summaries))
    tables = []
    for protocol in protocols:
        group = [s for s in summaries if s.protocol == protocol]
        names = metric_names([r for r in rows if r.protocol == protocol])
        by_method = {s.method: s for s in group}
        methods = order_methods([s.method for s in group], baselines, models)
        flags = {m: best_flags(m, [by_method[x].mean.get(m) for x in methods]) for m in names}
        table_rows = []
        for i, method in enumerate(methods):
            s = by_method[method]
            cells = [Cell(_method_label(method, notes)), Cell(str(s.n))]
            for m in names:
                text = format_mean_std(m, s.mean[m], s.std[m], s.n) if m in s.mean else "—"
                cells.append(Cell(text, bold=flags[m][i]))
            table_rows.append(Row(cells, highlight=method in models))
        n_cases = len({r.case for r in rows if r.protocol == protocol})
        over = f"mean ± population std over {n_cases} cases" if n_cases != 1 else "1 case"
        tables.append(
            Table(
                caption=f"Protocol “{protocol}”: {over}{caption_suffix}",
                columns=["method", "n", *(metric_header(m) for m in names)],
                rows=table_rows,
                numeric_from=1,
            )
        )
    return tables


def case_tables(
    rows: Sequence[CaseResult],
    case: str,
    *,
    baselines: Sequence[str] = (),
    models: Sequence[str] = (),
    notes: dict[str, str] | None = None,
    primary: str = "",
) -> list[Table]:
    """One table per protocol with the metrics of a single case (primary protocol first)."""
    notes = notes or {}
    mine = [r for r in rows if r.case == case]
    protocols = list(dict.fromkeys(r.protocol for r in mine))
    if primary in protocols:
        protocols.remove(primary)
        protocols.insert(0, primary)
    tables = []
    for protocol in protocols:
        group = {r.method: r for r in mine if r.protocol == protocol}
        names = metric_names(list(group.values()))
        methods = order_methods(list(group), baselines, models)
        flags = {m: best_flags(m, [group[x].metrics.get(m) for x in methods]) for m in names}
        table_rows = []
        for i, method in enumerate(methods):
            values = group[method].metrics
            cells = [Cell(_method_label(method, notes))]
            for m in names:
                text = format_value(m, values[m]) if m in values else "—"
                cells.append(Cell(text, bold=flags[m][i]))
            table_rows.append(Row(cells, highlight=method in models))
        label = " (primary)" if protocol == primary else ""
        tables.append(
            Table(
                caption=f"Protocol “{protocol}”{label}",
                columns=["method", *(metric_header(m) for m in names)],
                rows=table_rows,
            )
        )
    return tables


def rank_baselines(
    rows: Sequence[CaseResult], case: str, baselines: Sequence[str], protocol: str, metric: str
) -> list[str]:
    """Baselines of ``case`` from best to worst mean ``metric`` under ``protocol``.

    A lower value wins for error metrics (NRMSE, MAE); ties keep the listed order; baselines
    without a value come last, in the listed order.
    """
    sign = 1.0 if higher_is_better(metric) else -1.0
    scored: list[tuple[float, int, str]] = []
    rest: list[str] = []
    for i, name in enumerate(baselines):
        values = [
            r.metrics[metric]
            for r in rows
            if r.case == case
            and r.method == name
            and r.protocol == protocol
            and metric in r.metrics
        ]
        values = [v for v in values if not math.isnan(v)]
        if values:
            scored.append((-sign * sum(values) / len(values), i, name))
        else:
            rest.append(name)
    return [name for _, _, name in sorted(scored)] + rest


def best_baseline(
    rows: Sequence[CaseResult], case: str, baselines: Sequence[str], protocol: str, metric: str
) -> str | None:
    """The baseline with the best mean ``metric`` under ``protocol`` for ``case`` (None if no data).

    Ties keep the earlier baseline; a lower value wins for error metrics (NRMSE, MAE).
    """
    ranked = rank_baselines(rows, case, baselines, protocol, metric)
    have = {
        r.method
        for r in rows
        if r.case == case
        and r.protocol == protocol
        and not math.isnan(r.metrics.get(metric, math.nan))
    }
    return next((b for b in ranked if b in have), None)
