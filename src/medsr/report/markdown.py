"""The Markdown twin of the report: GitHub-flavoured tables, images under ``report_files/``."""

from __future__ import annotations

from medsr.report.doc import (
    Asset,
    Badge,
    Block,
    Cell,
    Charts,
    Document,
    Heading,
    KeyValues,
    PanelGrid,
    Table,
    Text,
)

#: Folder of the image files, relative to ``report.md``.
FILES_DIR = "report_files"
_BADGE_MARK = {"train": "⚠️", "heldout": "✅", "info": "ℹ️", "warn": "⚠️"}


def _esc(text: str) -> str:
    """Escape characters that would break a table cell or start Markdown markup."""
    out = text.replace("\\", "\\\\").replace("|", "\\|")
    for ch in ("*", "_", "`", "<", ">", "[", "]"):
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def _link(asset: Asset) -> str:
    return f"{FILES_DIR}/{asset.name}"


def _cell(cell: Cell) -> str:
    text = _esc(cell.text)
    if cell.badge:
        text = f"{_BADGE_MARK.get(cell.badge, '')} {text}".strip()
    return f"**{text}**" if cell.bold else text


def _table(t: Table) -> list[str]:
    lines = [f"*{_esc(t.caption)}*", ""] if t.caption else []
    lines.append("| " + " | ".join(_esc(c) or " " for c in t.columns) + " |")
    aligns = ["---:" if i >= t.numeric_from else ":---" for i in range(len(t.columns))]
    lines.append("| " + " | ".join(aligns) + " |")
    for row in t.rows:
        cells = [_cell(c) for c in row.cells]
        if row.highlight and cells:
            cells[0] = f"▶ {cells[0]}"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _grid(g: PanelGrid) -> list[str]:
    header = g.rows[0] if g.rows else []
    labels = []
    for p in header:
        text = _esc(p.label)
        if p.sublabel:
            text += f"<br>{_esc(p.sublabel)}"
        labels.append(text or " ")
    lines = ["| " + " | ".join(labels) + " |", "| " + " | ".join([":---:"] * len(labels)) + " |"]
    for row in g.rows:
        imgs = [f"![{_esc(p.label or 'zoom')}]({_link(p.asset)})" for p in row]
        lines.append("| " + " | ".join(imgs) + " |")
    lines.append("")
    if g.caption:
        lines += [f"*{_esc(g.caption)}*", ""]
    return lines


def _block(b: Block) -> list[str]:
    if isinstance(b, Heading):
        return ["#" * b.level + " " + _esc(b.text), ""]
    if isinstance(b, Text):
        text = _esc(b.text)
        if b.style == "note":
            return [f"> {text}", ""]
        if b.style == "muted":
            return [f"*{text}*", ""]
        return [text, ""]
    if isinstance(b, Badge):
        return [f"**{_BADGE_MARK.get(b.kind, '')} {_esc(b.text)}**", ""]
    if isinstance(b, KeyValues):
        return [*(f"- **{_esc(k)}:** {_esc(v)}" for k, v in b.items), ""]
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, PanelGrid):
        return _grid(b)
    if isinstance(b, Charts):
        lines = [" ".join(f"![{_esc(c.name)}]({_link(c)})" for c in b.charts), ""]
        if b.caption:
            lines += [f"*{_esc(b.caption)}*", ""]
        return lines
    raise TypeError(f"unknown block {type(b).__name__}")  # pragma: no cover


def render_markdown(doc: Document, subtitle: str = "") -> str:
    """The report as Markdown referencing the image files under :data:`FILES_DIR`."""
    lines = [f"# {_esc(doc.title)}", ""]
    if subtitle:
        lines += [f"*{_esc(subtitle)}*", ""]
    toc = doc.toc()
    if toc:
        lines += [
            *(
                f"{'  ' if level == 3 else ''}- [{_esc(text)}](#{anchor})"
                for level, text, anchor in toc
            ),
            "",
        ]
    for b in doc.blocks:
        if isinstance(b, Heading) and b.anchor:
            lines.append(f'<a id="{b.anchor}"></a>')
            lines.append("")
        lines.extend(_block(b))
    lines.append(
        "*Written by medsr report; report.html next to this file is the self-contained version.*"
    )
    return "\n".join(lines) + "\n"
