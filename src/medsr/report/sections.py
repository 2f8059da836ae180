"""The report's sections as document blocks: header, summary, box plots, cases, training."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medsr.metrics.aggregate import CaseResult, metric_names
from medsr.report.doc import (
    SVG,
    Asset,
    Badge,
    Block,
    Cell,
    Charts,
    Heading,
    KeyValues,
    Row,
    Table,
    Text,
)
from medsr.report.figures import case_figure_blocks, read_case_planes, slug
from medsr.report.gan_weight import GanWeightCurve, gan_weight_blocks
from medsr.report.sources import CaseSpec, RunInfo, same_volume_file
from medsr.report.svg import BoxItem, box_plot, svg_size
from medsr.report.tables import (
    METRIC_LABELS,
    best_baseline,
    best_flags,
    case_tables,
    format_delta,
    format_value,
    higher_is_better,
    metric_header,
    order_methods,
    rank_baselines,
    summary_tables,
)
from medsr.report.training import TrainLog, training_blocks

TRAIN_BADGE = "training scan — not a held-out result"
HELDOUT_BADGE = "held-out scan"


def split_badge(split: str) -> Badge | None:
    """The badge of a case's split (None when unknown)."""
    if split == "train":
        return Badge(TRAIN_BADGE, "train")
    if split == "held-out":
        return Badge(HELDOUT_BADGE, "heldout")
    return None


def protocol_blocks(protocols: Sequence[str]) -> list[Block]:
    """One line per protocol with its registered description."""
    if not protocols:
        return []
    try:
        from medsr.metrics.protocols import PROTOCOLS
    except ImportError:  # pragma: no cover - scipy missing
        known: set[str] = set()
    else:
        known = set(PROTOCOLS.names())
    items = []
    for name in protocols:
        desc = PROTOCOLS.get(name).description if name in known else "not a registered protocol"
        items.append((name, desc))
    return [Heading(2, "Protocols", anchor="protocols"), KeyValues(items)]


def method_notes(cases: Sequence[CaseSpec]) -> dict[str, str]:
    """``{method: "= input"}`` for methods whose volume is the low-quality input in every case."""
    same: dict[str, bool] = {}
    for c in cases:
        for name, path in c.methods.items():
            is_input = c.input is not None and same_volume_file(path, c.input)
            same[name] = same.get(name, True) and is_input
    return {name: "= input" for name, flag in same.items() if flag}


def _primary(case: CaseSpec, rows: Sequence[CaseResult]) -> tuple[str, str]:
    protocols = [r.protocol for r in rows if r.case == case.id]
    protocol = case.primary_protocol or (protocols[0] if protocols else "")
    return protocol, case.primary_metric


def _value(
    rows: Sequence[CaseResult], case: str, method: str, protocol: str, metric: str
) -> float | None:
    vals = [
        r.metrics[metric]
        for r in rows
        if r.case == case and r.method == method and r.protocol == protocol and metric in r.metrics
    ]
    return sum(vals) / len(vals) if vals else None


def overview_table(cases: Sequence[CaseSpec], rows: Sequence[CaseResult]) -> Table:
    """One row per case: split, model, primary metric of the best baseline and of the model."""
    table_rows = []
    for c in cases:
        protocol, metric = _primary(c, rows)
        best = best_baseline(rows, c.id, c.baselines, protocol, metric)
        b = _value(rows, c.id, best, protocol, metric) if best else None
        m = _value(rows, c.id, c.model, protocol, metric) if c.model else None
        delta = "—"
        better = False
        if b is not None and m is not None and math.isfinite(b) and math.isfinite(m):
            delta = format_delta(metric, m - b, b)
            better = (m > b) if higher_is_better(metric) else (m < b)
        badge = split_badge(c.split)
        cells = [
            Cell(c.id),
            Cell(c.title or c.scan),
            Cell(badge.text if badge else "unknown", badge=badge.kind if badge else ""),  # type: ignore[arg-type]
            Cell(f"{protocol} · {metric}"),
            Cell(f"{best}: {format_value(metric, b)}" if best and b is not None else "—"),
            Cell(
                f"{c.model}: {format_value(metric, m)}"
                if c.model and m is not None
                else (c.model or "—")
            ),
            Cell(delta, bold=better),
        ]
        table_rows.append(Row(cells))
    return Table(
        caption="Cases (primary protocol and metric of each case; Δ = model − best baseline, bold when the model is better)",
        columns=["case", "description", "split", "primary", "best baseline", "model", "Δ"],
        rows=table_rows,
        numeric_from=6,
    )


#: What each task does, for case groups whose cases have no title.
TASK_LABELS = {
    "sr3d": "3D super-resolution",
    "sr2d": "2D super-resolution, slice by slice",
    "denoise2d": "2D denoising, slice by slice",
}


@dataclass(frozen=True)
class ModelGroup:
    """The cases of one model (or all rows of a bare evaluation folder) and their metric rows.

    Attributes:
        model: The model's method name (``""`` for a bare evaluation folder or cases without
            a model).
        models: Every bundled model of the group's cases in table order: a GAN model's PSNR
            partner run in its cases first, ``model`` last (empty without a model).
        cases: The group's cases (empty for a bare evaluation folder).
        rows: The metric rows of those cases.
        title: Heading of the group (``""`` when the report has a single, unnamed group).
        key: File-name-safe, unique name of the group (``""`` for the unnamed group).
    """

    model: str
    cases: list[CaseSpec]
    rows: list[CaseResult]
    title: str
    key: str
    models: list[str] = field(default_factory=list)

    @property
    def n_cases(self) -> int:
        """Number of cases of the group (from its rows when it has no case specs)."""
        return len(self.cases) or len({r.case for r in self.rows})


def task_description(case: CaseSpec) -> str:
    """What a case's model was asked to do: its title without the ``": model on scan"`` tail."""
    title = case.title.strip()
    for tail in (f": {case.model} on {case.scan}", f": {case.model}"):
        if case.model and title.endswith(tail):
            title = title[: -len(tail)].rstrip()
            break
    return title or TASK_LABELS.get(case.task, case.task)


def model_groups(rows: Sequence[CaseResult], cases: Sequence[CaseSpec]) -> list[ModelGroup]:
    """The cases grouped by their ``model``, in order of first appearance.

    Different models of a demo solve different tasks (3D k-space SR, 2D bicubic SR, CT
    denoising), so their cases are never pooled. A GAN model's PSNR partner run in the
    same cases (``case.json`` ``models``) belongs to the GAN model's group: its rows are
    methods of those cases, computed against the same baselines. Without case specs (a bare
    evaluation folder) all rows form one unnamed group. Metric rows of case ids that no case
    spec describes form a last group of their own.
    """
    if not cases:
        return [ModelGroup("", [], list(rows), "", "")]
    by_model: dict[str, list[CaseSpec]] = {}
    for c in cases:
        by_model.setdefault(c.model, []).append(c)
    groups: list[ModelGroup] = []
    used: set[str] = set()
    for model, members in by_model.items():
        ids = {c.id for c in members}
        descs = list(dict.fromkeys(task_description(c) for c in members))
        n = len(members)
        name = model or "no model"
        ordered = list(dict.fromkeys(m for c in members for m in c.model_rows))
        ordered = [m for m in ordered if m != model] + ([model] if model else [])
        others = [m for m in ordered if m != model]
        label = f"{name} (with {', '.join(others)})" if model and others else name
        title = f"{label} — {'; '.join(descs)}; {n} case{'s' if n != 1 else ''}"
        groups.append(
            ModelGroup(
                model,
                members,
                [r for r in rows if r.case in ids],
                title,
                _unique(name, used),
                ordered,
            )
        )
    known = {c.id for c in cases}
    rest = [r for r in rows if r.case not in known]
    if rest:
        n = len({r.case for r in rest})
        title = f"cases without case.json; {n} case{'s' if n != 1 else ''}"
        groups.append(ModelGroup("", [], rest, title, _unique("other", used)))
    return groups


def _unique(name: str, used: set[str]) -> str:
    key = base = slug(name)
    k = 2
    while key in used:
        key, k = f"{base}-{k}", k + 1
    used.add(key)
    return key


def _train_badge(cases: Sequence[CaseSpec]) -> list[Block]:
    train = [c.id for c in cases if c.split == "train"]
    if not train:
        return []
    return [
        Badge(
            f"includes {len(train)} training scan{'s' if len(train) > 1 else ''} "
            f"({', '.join(train)}): not held-out results",
            "train",
        )
    ]


def summary_blocks(
    rows: Sequence[CaseResult], cases: Sequence[CaseSpec], *, level: int = 2
) -> list[Block]:
    """Mean ± std tables per model and protocol, with a warning when training scans are included.

    A demo's cases are grouped by model (see :func:`model_groups`): each group lists only the
    methods run on its cases, baselines first and its bundled models last (highlighted; a GAN
    model's PSNR partner just before it).
    """
    groups = model_groups(rows, cases)
    blocks: list[Block] = [Heading(level, "Summary", anchor="summary")]
    named = any(g.title for g in groups)
    text = (
        "Rows: every method, the low-quality input and the baselines first, the model last "
        "(highlighted; a GAN model's content-loss stage, run on the same input, just before "
        "it). Bold: the best value of each column; ↑ higher is better, ↓ lower is "
        "better."
    )
    if named:
        text = (
            "One block per model: each model solves its own task (degradation), so cases of "
            "different models are never pooled. " + text
        )
    blocks.append(Text(text, style="muted"))
    for g in groups:
        if g.title:
            blocks.append(
                Heading(level + 1, g.title, anchor=f"summary-{g.key}", toc=g.model or g.title)
            )
        blocks.extend(_train_badge(g.cases))
        baselines = list(dict.fromkeys(b for c in g.cases for b in c.baselines))
        models = g.models
        suffix = f" ({g.model})" if g.model else ""
        blocks.extend(
            summary_tables(
                g.rows,
                baselines=baselines,
                models=models,
                notes=method_notes(g.cases),
                caption_suffix=suffix,
            )
        )
    return blocks


def boxplot_blocks(rows: Sequence[CaseResult], cases: Sequence[CaseSpec]) -> list[Block]:
    """Box plots of every metric per method over the cases: per model, one chart row per protocol."""
    split = {c.id: c.split for c in cases}
    blocks: list[Block] = [Heading(2, "Metrics per case", anchor="boxplots")]
    blocks.append(
        Text(
            "Each point is one case (hollow: a training scan); boxes show quartiles and "
            "1.5 IQR whiskers when a method has three or more cases, a bar the mean of two.",
            style="muted",
        )
    )
    for g in model_groups(rows, cases):
        baselines = list(dict.fromkeys(b for c in g.cases for b in c.baselines))
        models = g.models
        level = 3
        if g.title:
            blocks.append(Heading(3, g.title))
            level = 4
        for protocol in dict.fromkeys(r.protocol for r in g.rows):
            mine = [r for r in g.rows if r.protocol == protocol]
            methods = order_methods([r.method for r in mine], baselines, models)
            charts = []
            for metric in metric_names(mine):
                items = []
                for method in methods:
                    pts = [r for r in mine if r.method == method and metric in r.metrics]
                    items.append(
                        BoxItem(
                            label=method,
                            values=[r.metrics[metric] for r in pts],
                            names=[r.case for r in pts],
                            hollow=[split.get(r.case) == "train" for r in pts],
                            highlight=method in models,
                        )
                    )
                label = METRIC_LABELS.get(metric, metric)
                arrow = "↑" if higher_is_better(metric) else "↓"
                parts = [g.key, protocol, metric] if g.key else [protocol, metric]
                name = "box_" + "_".join(slug(x) for x in parts) + ".svg"
                svg = box_plot(items, title=f"{label} {arrow}", ylabel=label)
                width, height = svg_size(svg)
                charts.append(Asset(name, svg.encode("utf-8"), SVG, width, height))
            blocks.append(Heading(level, f"Protocol “{protocol}”"))
            blocks.append(Charts(charts))
    return blocks


def consistency_blocks(cases: Sequence[CaseSpec]) -> list[Block]:
    """The k-space data-consistency table, if any case has it."""
    have = [c for c in cases if c.data_consistency is not None]
    if not have:
        return []
    rows = []
    for c in have:
        per_model = dict(c.data_consistency_models or {})
        if c.model not in per_model and c.data_consistency is not None:
            per_model[c.model] = c.data_consistency
        for model in [m for m in c.model_rows if m in per_model] or list(per_model):
            dc = per_model[model]
            before, after = dc["before"], dc["after"]
            ratio = f"{before / after:.3g}×" if after > 0 else "∞"
            flags = best_flags("error", [before, after])
            rows.append(
                Row(
                    [
                        Cell(c.id),
                        Cell(model or "—"),
                        Cell(f"{before:.3g}", bold=flags[0]),
                        Cell(f"{after:.3g}", bold=flags[1]),
                        Cell(ratio),
                    ]
                )
            )
    return [
        Heading(2, "Data consistency", anchor="consistency"),
        Text(
            "Relative k-space consistency error ‖M(F(x) − y)‖ / ‖y‖ of the model output against "
            "the acquired samples, before and after the data-consistency step.",
            style="muted",
        ),
        Table(
            caption="Data-consistency error ↓ (lower is better)",
            columns=["case", "model", "before ↓", "after ↓", "reduction"],
            rows=rows,
            numeric_from=2,
        ),
    ]


def case_blocks(
    case: CaseSpec,
    rows: Sequence[CaseResult],
    log: TrainLog | None,
    curve: GanWeightCurve | None = None,
) -> list[Block]:
    """Everything about one case: badge, facts, metric tables, figures, the ``--gan-weight``
    curve (if any) and training curves."""
    notes = method_notes([case])
    prefix = f"case_{slug(case.id)}"
    protocol, metric = _primary(case, rows)
    best = best_baseline(rows, case.id, case.baselines, protocol, metric)
    ranked = [
        b
        for b in rank_baselines(rows, case.id, case.baselines, protocol, metric)
        if b in case.methods
    ]
    labels = {}
    for method in case.methods:
        value = _value(rows, case.id, method, protocol, metric)
        if value is not None:
            unit = " dB" if metric == "psnr" else ""
            name = METRIC_LABELS.get(metric, metric).split(" ")[0]
            labels[method] = f"{name} {format_value(metric, value)}{unit}"
    input_method = next((m for m, n in notes.items() if n == "= input" and m in case.methods), None)
    if input_method in labels:
        labels["@input"] = labels[input_method]
    planes, shown = read_case_planes(case, ranked, labels, scored=best is not None)
    blocks: list[Block] = [Heading(3, f"Case {case.id}", anchor=prefix.replace("_", "-"))]
    badge = split_badge(case.split)
    if badge:
        blocks.append(badge)
    facts = [("description", case.title or "—"), ("scan", case.scan or "—")]
    facts += [("task", case.task), ("modality", f"{case.modality} ({case.unit})")]
    facts.append(("model", case.model or "—"))
    others = [m for m in case.model_rows if m != case.model]
    if others:
        role = (
            f"content-loss (PSNR) stage of {case.model}"
            if others == [case.psnr_model]
            else "other bundled models"
        )
        facts.append(("also run", f"{', '.join(others)} ({role}; same input, same baselines)"))
    facts.append(("baselines", ", ".join(case.baselines) or "—"))
    if best:
        text = f"{best} (best mean {metric} under “{protocol}”)"
        if shown.best_is_input:
            text += "; it equals the low-quality input, so the panels add the next best: "
            text += shown.baseline or "none"
        elif shown.baseline != best:
            text += f"; no volume for it, the panels show {shown.baseline or 'no baseline'}"
        facts.append(("best baseline", text))
    if case.data_consistency:
        dc = case.data_consistency
        facts.append(
            (
                "data consistency",
                f"{dc['before']:.3g} before → {dc['after']:.3g} after (relative k-space error)",
            )
        )
    blocks.append(KeyValues(facts))
    blocks.extend(
        case_tables(
            rows,
            case.id,
            baselines=case.baselines,
            models=case.model_rows,
            notes=notes,
            primary=protocol,
        )
    )
    blocks.extend(case_figure_blocks(case, planes, prefix))
    if curve is not None:
        blocks.extend(gan_weight_blocks(curve, prefix, level=4))
    if log is not None:
        blocks.extend(training_blocks(log, f"{prefix}_train", level=4))
    return blocks


def evaluation_tables(rows: Sequence[CaseResult]) -> list[Block]:
    """Per-case tables of a bare evaluation folder: one per protocol, best of each case bold."""
    blocks: list[Block] = [Heading(2, "Per case", anchor="per-case")]
    for protocol in dict.fromkeys(r.protocol for r in rows):
        mine = [r for r in rows if r.protocol == protocol]
        names = metric_names(mine)
        out_rows = []
        for case in dict.fromkeys(r.case for r in mine):
            group = [r for r in mine if r.case == case]
            flags = {m: best_flags(m, [r.metrics.get(m) for r in group]) for m in names}
            for i, r in enumerate(group):
                cells = [Cell(case), Cell(r.method)]
                cells += [
                    Cell(format_value(m, r.metrics[m]) if m in r.metrics else "—", bold=flags[m][i])
                    for m in names
                ]
                out_rows.append(Row(cells))
        blocks.append(
            Table(
                caption=f"Protocol “{protocol}”: every case (bold: best of the case)",
                columns=["case", "method", *(metric_header(m) for m in names)],
                rows=out_rows,
                numeric_from=2,
            )
        )
    return blocks


def run_facts(kind: str, src: Path, run: RunInfo | None) -> list[tuple[str, str]]:
    """The header's fact list."""
    facts = [("source", str(src)), ("kind", kind)]
    if run is not None:
        if run.kind:
            facts.append(("run", run.kind))
        if run.version:
            facts.append(("medsr version", run.version))
        if run.hardware:
            facts.append(("hardware", run.hardware))
        if run.seconds is not None:
            facts.append(("run time", f"{run.seconds:.1f} s"))
    return facts
