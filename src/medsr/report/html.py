"""The self-contained HTML writer: inline CSS, PNGs as data URIs, SVG inline, no scripts."""

from __future__ import annotations

import base64
from html import escape

from medsr.report.doc import (
    PNG,
    Asset,
    Badge,
    Block,
    Charts,
    Document,
    Heading,
    KeyValues,
    PanelGrid,
    Table,
    Text,
)

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --accent: #d9480f; --bg: #f4f5f8;
  --card: #ffffff; --model: #fff1e6; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
header.top { background: #1d2330; color: #fff; padding: 22px 0 18px; }
header.top .inner, main { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header.top h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
header.top .sub { color: #b8c0d0; font-size: 14px; }
nav.toc { max-width: 1240px; margin: 0 auto; padding: 10px 20px 0; font-size: 13.5px;
  display: flex; flex-wrap: wrap; gap: 2px 16px; }
nav.toc a { color: #1f5fa8; text-decoration: none; overflow-wrap: anywhere; }
nav.toc a.l3 { color: var(--muted); }
nav.toc a:hover { text-decoration: underline; }
main { padding-bottom: 60px; }
h2 { font-size: 21px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 17.5px; margin: 26px 0 8px; }
h4 { font-size: 15.5px; margin: 20px 0 6px; color: #333; }
p { margin: 6px 0 10px; }
p.muted { color: var(--muted); font-size: 13.5px; }
p.note { background: #eef4fb; border-left: 3px solid #1f5fa8; padding: 6px 10px; font-size: 14px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 12px;
  font-size: 14px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12.5px;
  font-weight: 650; border: 1px solid; white-space: nowrap; }
p.badge-line { margin: 4px 0 8px; }
.badge.train { background: #fde3e1; color: #a11a1a; border-color: #f2aaa5; }
.badge.heldout { background: #e2f5e7; color: #176930; border-color: #ade0ba; }
.badge.info { background: #e8eef8; color: #1f4f8a; border-color: #b9cbe6; }
.badge.warn { background: #fff4d6; color: #7a5a00; border-color: #f0d68a; }
.tables { display: flex; flex-wrap: wrap; gap: 4px 28px; align-items: flex-start; }
.tablewrap { overflow-x: auto; max-width: 100%; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums;
  background: var(--card); border: 1px solid var(--line); }
caption { caption-side: top; text-align: left; font-weight: 600; color: var(--muted);
  padding: 0 0 5px; font-size: 13px; }
th, td { padding: 4px 11px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.txt { white-space: normal; min-width: 6em; }
th { background: #f0f2f6; font-weight: 650; text-align: right; }
td.num { text-align: right; }
th.txt, td.txt { text-align: left; }
tr.model td { background: var(--model); }
tr.model td:first-child { box-shadow: inset 3px 0 0 var(--accent); font-weight: 650; }
td strong { color: #000; }
.grid { display: grid; gap: 6px 8px; align-items: end; margin: 8px 0 4px; }
.panel { min-width: 0; }
.panel .label { font-size: 12.5px; font-weight: 650; line-height: 1.25; text-align: center;
  margin-bottom: 2px; overflow-wrap: anywhere; }
.panel .sublabel { font-size: 12px; color: var(--muted); text-align: center; margin-bottom: 3px; }
.panel img { display: block; width: 100%; height: auto; background: #000; border-radius: 2px;
  outline: 1px solid #c9cfd9; }
.panel img.pix { image-rendering: pixelated; image-rendering: crisp-edges; }
.caption { font-size: 12.5px; color: var(--muted); margin: 4px 0 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 10px; align-items: flex-start; margin: 8px 0; }
.charts svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
  border-radius: 4px; background: #fff; }
.case { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 4px 18px 14px; margin: 18px 0; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 40px; }
"""


def data_uri(asset: Asset) -> str:
    """``data:`` URI of an asset (base64)."""
    return f"data:{asset.mime};base64,{base64.b64encode(asset.data).decode('ascii')}"


def _image(asset: Asset, alt: str, pixelated: bool) -> str:
    if asset.mime == PNG:
        cls = ' class="pix"' if pixelated else ""
        return (
            f'<img{cls} src="{data_uri(asset)}" width="{asset.width}" height="{asset.height}" '
            f'alt="{escape(alt)}">'
        )
    return asset.data.decode("utf-8")


def _table(t: Table) -> str:
    out = ['<div class="tablewrap"><table>']
    if t.caption:
        out.append(f"<caption>{escape(t.caption)}</caption>")
    head = "".join(
        f'<th class="{"num" if i >= t.numeric_from else "txt"}">{escape(c)}</th>'
        for i, c in enumerate(t.columns)
    )
    out.append(f"<thead><tr>{head}</tr></thead><tbody>")
    for row in t.rows:
        cls = ' class="model"' if row.highlight else ""
        cells = []
        for i, cell in enumerate(row.cells):
            text = escape(cell.text)
            if cell.badge:
                text = f'<span class="badge {cell.badge}">{text}</span>'
            if cell.bold:
                text = f"<strong>{text}</strong>"
            cells.append(f'<td class="{"num" if i >= t.numeric_from else "txt"}">{text}</td>')
        out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _grid(g: PanelGrid) -> str:
    out = [f'<div class="grid" style="grid-template-columns: repeat({g.columns}, minmax(0, 1fr))">']
    for row in g.rows:
        for p in row:
            label = f'<div class="label">{escape(p.label)}</div>' if p.label else ""
            sub = f'<div class="sublabel">{escape(p.sublabel)}</div>' if p.sublabel else ""
            if p.label and not p.sublabel and any(q.sublabel for q in row):
                sub = '<div class="sublabel">&nbsp;</div>'
            alt = p.label or f"zoom of {p.asset.name}"
            out.append(f'<div class="panel">{label}{sub}{_image(p.asset, alt, p.pixelated)}</div>')
    out.append("</div>")
    if g.caption:
        out.append(f'<div class="caption">{escape(g.caption)}</div>')
    return "".join(out)


def _block(b: Block) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{escape(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Text):
        cls = f' class="{b.style}"' if b.style != "p" else ""
        return f"<p{cls}>{escape(b.text)}</p>"
    if isinstance(b, Badge):
        return f'<p class="badge-line"><span class="badge {b.kind}">{escape(b.text)}</span></p>'
    if isinstance(b, KeyValues):
        items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in b.items)
        return f'<dl class="kv">{items}</dl>'
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, PanelGrid):
        return _grid(b)
    if isinstance(b, Charts):
        charts = "".join(_image(c, c.name, False) for c in b.charts)
        cap = f'<div class="caption">{escape(b.caption)}</div>' if b.caption else ""
        return f'<div class="charts">{charts}</div>{cap}'
    raise TypeError(f"unknown block {type(b).__name__}")  # pragma: no cover


def _body(blocks: list[Block]) -> str:
    """Blocks in order; each level-3 case section is wrapped in a card."""
    out: list[str] = []
    in_case = in_tables = False
    for b in blocks:
        if in_tables and not isinstance(b, Table):
            out.append("</div>")
            in_tables = False
        if isinstance(b, Heading) and b.level <= 3 and in_case:
            out.append("</section>")
            in_case = False
        if isinstance(b, Heading) and b.level == 3 and b.anchor.startswith("case-"):
            out.append('<section class="case">')
            in_case = True
        if isinstance(b, Table) and not in_tables:
            out.append('<div class="tables">')
            in_tables = True
        out.append(_block(b))
    if in_tables:
        out.append("</div>")
    if in_case:
        out.append("</section>")
    return "\n".join(out)


def render_html(doc: Document, subtitle: str = "") -> str:
    """The whole report as one HTML page that loads nothing from elsewhere."""
    toc = "".join(
        f'\n<a class="l{level}" href="#{escape(anchor)}">{escape(text)}</a>'
        for level, text, anchor in doc.toc()
    )
    sub = f'<div class="sub">{escape(subtitle)}</div>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="top"><div class="inner"><h1>{escape(doc.title)}</h1>{sub}</div></header>\n'
        f'<nav class="toc">{toc}</nav>\n<main>\n{_body(doc.blocks)}\n'
        "<footer>Written by medsr report. Self-contained: every image is embedded in this file; "
        "report.md next to it shows the same content with the images in report_files/.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )
