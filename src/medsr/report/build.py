"""``build_report``: read an output folder, build the document, write HTML + Markdown atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medsr._version import __version__
from medsr.errors import InputError
from medsr.report.doc import Block, Document, Heading, KeyValues, Text
from medsr.report.gan_weight import load_gan_weight_curve
from medsr.report.html import render_html
from medsr.report.markdown import FILES_DIR, render_markdown
from medsr.report.sections import (
    boxplot_blocks,
    case_blocks,
    consistency_blocks,
    evaluation_tables,
    overview_table,
    protocol_blocks,
    run_facts,
    summary_blocks,
)
from medsr.report.sources import (
    case_folders,
    detect_kind,
    load_case,
    load_metrics,
    load_run,
)
from medsr.report.training import TrainLog, load_train_log, training_blocks

HTML_NAME = "report.html"
MD_NAME = "report.md"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote.

    Attributes:
        html: The self-contained ``report.html``.
        markdown: ``report.md``, which references the files under ``report_files/``.
        files: The image files under ``report_files/`` (PNG and SVG).
    """

    html: Path
    markdown: Path
    files: list[Path]


def _demo_document(src: Path, train_runs: list[TrainLog], title: str | None) -> Document:
    run = load_run(src / "run.json")
    rows = load_metrics(src / "metrics.json")
    folders = case_folders(src, run)
    if not folders:
        raise InputError(src / "cases", "no case folders with a case.json")
    cases = [load_case(folder, cid) for cid, folder in folders]
    logs = {}
    curves = {}
    for c in cases:
        if c.training_log is not None:
            logs[c.id] = load_train_log(c.training_log, name=c.model or c.id)
        if c.gan_weight_curve is not None:
            curves[c.id] = load_gan_weight_curve(c.gan_weight_curve)
    doc = Document(title or "medsr demo report")
    protocols = list(dict.fromkeys(r.protocol for r in rows))
    facts = run_facts("demo / evaluation", src, run)
    facts.append(("cases", f"{len(cases)} ({_split_counts(cases)})"))
    doc.add(Heading(2, "Overview", anchor="overview"), KeyValues(facts))
    doc.add(*(Text(n, style="note") for n in run.notes))
    doc.add(overview_table(cases, rows))
    doc.add(*protocol_blocks(protocols))
    doc.add(*summary_blocks(rows, cases))
    doc.add(*boxplot_blocks(rows, cases))
    doc.add(*consistency_blocks(cases))
    doc.add(Heading(2, "Cases", anchor="cases"))
    for c in cases:
        doc.add(*case_blocks(c, rows, logs.get(c.id), curves.get(c.id)))
    doc.add(*_train_section(train_runs))
    return doc


def _split_counts(cases: Sequence[object]) -> str:
    splits = [getattr(c, "split", "") for c in cases]
    held, train = splits.count("held-out"), splits.count("train")
    parts = [f"{held} held-out", f"{train} training scan{'s' if train != 1 else ''}"]
    unknown = len(splits) - held - train
    if unknown:
        parts.append(f"{unknown} unknown split")
    return ", ".join(parts)


def _train_section(runs: Sequence[TrainLog]) -> list[Block]:
    if not runs:
        return []
    blocks: list[Block] = [Heading(2, "Training", anchor="training")]
    for i, r in enumerate(runs):
        blocks.extend(training_blocks(r, f"train{i}"))
    return blocks


def _evaluation_document(src: Path, train_runs: list[TrainLog], title: str | None) -> Document:
    rows = load_metrics(src / "metrics.json")
    doc = Document(title or "medsr evaluation report")
    facts = run_facts("evaluation (metrics only)", src, None)
    cases = list(dict.fromkeys(r.case for r in rows))
    methods = list(dict.fromkeys(r.method for r in rows))
    facts += [("cases", str(len(cases))), ("methods", ", ".join(methods))]
    doc.add(Heading(2, "Overview", anchor="overview"), KeyValues(facts))
    doc.add(*protocol_blocks(list(dict.fromkeys(r.protocol for r in rows))))
    doc.add(*summary_blocks(rows, []))
    doc.add(*boxplot_blocks(rows, []))
    doc.add(*evaluation_tables(rows))
    doc.add(*_train_section(train_runs))
    return doc


def _training_document(src: Path, train_runs: list[TrainLog], title: str | None) -> Document:
    main = load_train_log(src)
    doc = Document(title or f"medsr training report: {main.name}")
    doc.add(
        Heading(2, "Overview", anchor="overview"), KeyValues(run_facts("training run", src, None))
    )
    doc.add(*_train_section([main, *train_runs]))
    return doc


def build_document(
    src_dir: str | os.PathLike[str],
    *,
    train_runs: Sequence[str | os.PathLike[str]] = (),
    title: str | None = None,
) -> Document:
    """Read ``src_dir`` (and the extra training runs) and build the report document.

    Raises:
        InputError: For an unknown folder or a missing or corrupt file (named in the message).
    """
    src = Path(src_dir)
    kind = detect_kind(src)
    runs = [load_train_log(Path(p)) for p in train_runs]
    if kind == "demo":
        return _demo_document(src, runs, title)
    if kind == "evaluation":
        return _evaluation_document(src, runs, title)
    return _training_document(src, runs, title)


def build_report(
    src_dir: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    train_runs: Sequence[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    title: str | None = None,
) -> ReportResult:
    """Write ``report.html`` (self-contained), ``report.md`` and ``report_files/`` for a folder.

    ``src_dir`` is recognised by its content: a demo folder (``run.json`` and ``cases/``), an
    evaluation folder (``metrics.json``) or a training run (``log.jsonl``). Everything is read
    and rendered in memory first, then written into a temporary folder and moved into place,
    ``report.html`` last: an error leaves no partial report behind.

    Args:
        src_dir: The folder to report on.
        out_dir: Where to write (default: ``src_dir``).
        train_runs: Training run folders (or ``log.jsonl`` files) whose curves are added.
        overwrite: Replace an existing report.
        title: Report title (default: from the folder's kind).

    Returns:
        The paths written.

    Raises:
        InputError: If a report exists and ``overwrite`` is False, or an input is missing or
            corrupt; the message names the file.
    """
    out = Path(out_dir) if out_dir is not None else Path(src_dir)
    targets = [out / HTML_NAME, out / MD_NAME, out / FILES_DIR]
    if not overwrite:
        for t in targets:
            if t.exists():
                raise InputError(
                    t, "already exists; pass --overwrite (overwrite=True) to replace it"
                )
    doc = build_document(src_dir, train_runs=train_runs, title=title)
    subtitle = f"medsr {__version__} · {Path(src_dir).resolve().name}"
    html = render_html(doc, subtitle)
    markdown = render_markdown(doc, subtitle)
    assets = doc.assets()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        files_dir = tmp / FILES_DIR
        files_dir.mkdir()
        for a in assets:
            (files_dir / a.name).write_bytes(a.data)
        (tmp / MD_NAME).write_text(markdown, encoding="utf-8")
        (tmp / HTML_NAME).write_text(html, encoding="utf-8")
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ReportResult(
        html=out / HTML_NAME,
        markdown=out / MD_NAME,
        files=[out / FILES_DIR / a.name for a in assets],
    )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Swap ``report_files/`` in, then replace ``report.md`` and finally ``report.html``."""
    old = out / FILES_DIR
    trash = None
    if old.exists():
        trash = tmp / "old_files"
        os.replace(old, trash)
    try:
        os.replace(tmp / FILES_DIR, old)
    except BaseException:
        if trash is not None:
            with contextlib.suppress(OSError):
                os.replace(trash, old)
        raise
    os.replace(tmp / MD_NAME, out / MD_NAME)
    os.replace(tmp / HTML_NAME, out / HTML_NAME)
