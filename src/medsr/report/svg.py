"""Hand-written SVG charts: line charts (linear or log y), box plots and colour bars.

Every function returns a standalone ``<svg>`` document (with ``xmlns``) that works both inline
in HTML and as a ``.svg`` file. Text uses the system font stack; nothing external is loaded.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
#: Distinguishable line colours (Tableau 10).
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
_AXIS = "#444"
_GRID = "#e6e6e6"
_CHAR_W = 0.58  # average glyph width in em, for layout estimates
_MAX_POINTS = 800


#: Numbers of a chart: a sequence or a 1D array.
Values = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Series:
    """One line of a line chart. Non-finite points break the line."""

    name: str
    x: Values
    y: Values
    color: str
    dash: str = ""
    width: float = 1.6
    opacity: float = 1.0
    legend: bool = True
    markers: bool = False


@dataclass(frozen=True)
class HLine:
    """A horizontal reference line (e.g. the low-quality input's metric)."""

    y: float
    label: str
    color: str = "#555555"
    dash: str = "6 4"


@dataclass(frozen=True)
class BoxItem:
    """The values of one method in a box plot; ``hollow`` marks training-scan points."""

    label: str
    values: Sequence[float]
    names: Sequence[str]
    hollow: Sequence[bool]
    highlight: bool = False


def svg_size(svg: str) -> tuple[int, int]:
    """``(width, height)`` of an SVG document written by this module."""
    head = svg[: svg.index(">")]
    width = head.split('width="', 1)[1].split('"', 1)[0]
    height = head.split('height="', 1)[1].split('"', 1)[0]
    return int(float(width)), int(float(height))


def text_width(text: str, size: float) -> float:
    """Estimated rendered width of ``text`` in pixels at font ``size``."""
    return len(text) * size * _CHAR_W


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


def _open(width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'font-family="{escape(FONT)}" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def _ylabel(cy: float, label: str) -> str:
    """A y-axis label rotated along the left edge, centred at height ``cy``."""
    return (
        f'<text x="14" y="{_num(cy)}" text-anchor="middle" font-size="11" fill="#333" '
        f'transform="rotate(-90 14 {_num(cy)})">{escape(label)}</text>'
    )


def _text(
    x: float, y: float, s: str, *, anchor: str = "middle", size: float = 11, **kw: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in kw.items())
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{size:g}"{extra}>'
        f"{escape(s)}</text>"
    )


def _hline(x0: float, x1: float, y: float, color: str, extra: str = "") -> str:
    return f'<line x1="{_num(x0)}" y1="{_num(y)}" x2="{_num(x1)}" y2="{_num(y)}" stroke="{color}"{extra}/>'


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (about ``count`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Decade ticks in ``[lo, hi]`` (both > 0), with 2 and 5 added when few decades show."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = [10.0**e for e in range(first, last + 1)]
    mults = (1.0,) if last - first > 2 else (1.0, 2.0, 5.0)
    ticks = [d * m for d in decades for m in mults if lo * (1 - 1e-9) <= d * m <= hi * (1 + 1e-9)]
    return ticks or [lo, hi]


def format_ticks(ticks: Sequence[float]) -> list[str]:
    """Compact tick labels with the fewest decimals that keep every tick exact to 1 % of a step."""
    values = [float(t) for t in ticks]
    if not values:
        return []
    big = max(abs(v) for v in values)
    if big >= 1e5 or 0 < big < 1e-3:
        return [f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e") if v else "0" for v in values]
    steps = np.abs(np.diff(values))
    step = float(steps.min()) if steps.size and steps.min() > 0 else max(big, 1e-12)
    for decimals in range(7):
        labels = [f"{v:.{decimals}f}" for v in values]
        if all(abs(float(lab) - v) <= 0.01 * step for lab, v in zip(labels, values)):
            return ["0" if float(lab) == 0 else lab for lab in labels]
    return [f"{v:.6g}" for v in values]


def uid(*parts: object) -> str:
    """A short deterministic id for SVG definitions (gradients, clip paths)."""
    return "u" + format(zlib.crc32("|".join(map(str, parts)).encode("utf-8")), "08x")


def thin(
    x: np.ndarray, y: np.ndarray, max_points: int = _MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that keep each bucket's minimum and maximum, in order."""
    n = x.size
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    for a, b in itertools.pairwise(edges.tolist()):
        if b <= a:
            continue
        seg = y[a:b]
        finite = np.isfinite(seg)
        if not finite.any():
            keep.append(a)
            continue
        lo = a + int(np.nanargmin(np.where(finite, seg, np.nan)))
        hi = a + int(np.nanargmax(np.where(finite, seg, np.nan)))
        keep.extend(sorted({lo, hi}))
    idx = np.asarray(keep, dtype=int)
    return x[idx], y[idx]


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    parts: list[str] = []
    pen_down = False
    for px, py in zip(xs.tolist(), ys.tolist()):
        if not (math.isfinite(px) and math.isfinite(py)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{px:.1f} {py:.1f}")
        pen_down = True
    return " ".join(parts)


def _legend(
    entries: list[tuple[str, str, str]], x0: float, y0: float, max_width: float
) -> tuple[list[str], float]:
    """Legend swatches wrapped into lines; returns the SVG parts and the height used."""
    parts: list[str] = []
    x, y = x0, y0
    line_h = 16
    for name, color, dash in entries:
        w = 26 + text_width(name, 11) + 14
        if x + w > x0 + max_width and x > x0:
            x, y = x0, y + line_h
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_num(x)}" y1="{_num(y - 4)}" x2="{_num(x + 20)}" y2="{_num(y - 4)}" '
            f'stroke="{color}" stroke-width="2.2"{dash_attr}/>'
        )
        parts.append(_text(x + 25, y, name, anchor="start", fill="#222"))
        x += w
    return parts, (y - y0) + line_h if entries else 0.0


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str = "",
    width: int = 560,
    height: int = 300,
    log_y: bool = False,
    hlines: Sequence[HLine] = (),
    ident: str = "",
) -> str:
    """A line chart with axes, grid, ticks, legend and optional horizontal reference lines.

    Args:
        series: The lines; long ones are thinned to their per-bucket minima and maxima.
        title: Chart title.
        xlabel: X axis label.
        ylabel: Y axis label.
        width: SVG width in pixels.
        height: SVG height in pixels (the legend takes room from the plot).
        log_y: Logarithmic y axis (non-positive values are dropped).
        hlines: Dashed horizontal reference lines, labelled in the legend.
        ident: Unique id prefix for the chart's definitions (default: derived from the title).

    Returns:
        The SVG document.
    """
    data = []
    for s in series:
        x = np.asarray(s.x, dtype=float)
        y = np.asarray(s.y, dtype=float)
        if log_y:
            y = np.where(y > 0, y, np.nan)
        x, y = thin(x, y)
        data.append((s, x, y))
    ys = [y[np.isfinite(y)] for _, _, y in data]
    xs = [x[np.isfinite(x) & np.isfinite(y)] for _, x, y in data]
    yv = np.concatenate([*ys, np.asarray([h.y for h in hlines if math.isfinite(h.y)], dtype=float)])
    if log_y:
        yv = yv[yv > 0]
    xv = np.concatenate(xs) if xs else np.zeros(0)
    parts = _open(width, height, title)
    parts.append(_text(width / 2, 17, title, size=13, font_weight="600", fill="#222"))
    left, right, top, bottom = 64.0, 14.0, 28.0, 40.0
    entries = [(s.name, s.color, s.dash) for s in series if s.legend]
    entries += [(h.label, h.color, h.dash) for h in hlines]
    legend_parts, legend_h = _legend(entries, left, top + 10, width - left - right)
    parts.extend(legend_parts)
    top += legend_h + 6
    pw, ph = width - left - right, height - top - bottom
    if yv.size == 0 or xv.size == 0 or ph < 20:
        parts.append(_text(width / 2, top + ph / 2, "no data", fill="#888"))
        parts.append("</svg>")
        return "\n".join(parts)
    x_lo, x_hi = float(xv.min()), float(xv.max())
    single_x = x_hi <= x_lo
    if single_x:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    y_lo, y_hi = float(yv.min()), float(yv.max())
    if log_y:
        ly_lo, ly_hi = math.log10(y_lo), math.log10(y_hi)
        pad = max(0.05 * (ly_hi - ly_lo), 0.05)
        ly_lo, ly_hi = ly_lo - pad, ly_hi + pad
        yticks = log_ticks(10**ly_lo, 10**ly_hi)

        def ty(v: np.ndarray | float) -> np.ndarray:
            return np.asarray(top + ph * (ly_hi - np.log10(v)) / (ly_hi - ly_lo))

    else:
        span = y_hi - y_lo
        pad = 0.06 * span if span > 0 else max(abs(y_hi) * 0.05, 1e-6)
        y_lo, y_hi = y_lo - pad, y_hi + pad
        yticks = [t for t in nice_ticks(y_lo, y_hi) if y_lo <= t <= y_hi]

        def ty(v: np.ndarray | float) -> np.ndarray:
            return np.asarray(top + ph * (y_hi - np.asarray(v, dtype=float)) / (y_hi - y_lo))

    def tx(v: np.ndarray | float) -> np.ndarray:
        return np.asarray(left + pw * (np.asarray(v, dtype=float) - x_lo) / (x_hi - x_lo))

    xticks = [t for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi]
    if single_x:  # one x value (e.g. a single validation): one tick, not fractions around it
        xticks = [(x_lo + x_hi) / 2]
    ylabels = [f"{t:g}" for t in yticks] if log_y else format_ticks(yticks)
    for t, lab in zip(yticks, ylabels):
        yy = float(ty(t))
        parts.append(_hline(left, left + pw, yy, _GRID))
        parts.append(_text(left - 6, yy + 4, lab, anchor="end", fill=_AXIS))
    for t, lab in zip(xticks, format_ticks(xticks)):
        xx = float(tx(t))
        parts.append(
            f'<line x1="{_num(xx)}" y1="{_num(top)}" x2="{_num(xx)}" y2="{_num(top + ph)}" stroke="{_GRID}"/>'
        )
        parts.append(_text(xx, top + ph + 15, lab, fill=_AXIS))
    parts.append(
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(pw)}" height="{_num(ph)}" '
        f'fill="none" stroke="{_AXIS}" stroke-width="1"/>'
    )
    clip_id = ident or uid("line", title, width, height)
    parts.append(
        f'<clipPath id="{clip_id}"><rect x="{_num(left)}" y="{_num(top)}" '
        f'width="{_num(pw)}" height="{_num(ph)}"/></clipPath>'
    )
    parts.append(f'<g clip-path="url(#{clip_id})">')
    for h in hlines:
        if math.isfinite(h.y) and (h.y > 0 or not log_y):
            yy = float(ty(h.y))
            parts.append(
                f'<line x1="{_num(left)}" y1="{_num(yy)}" x2="{_num(left + pw)}" y2="{_num(yy)}" '
                f'stroke="{h.color}" stroke-width="1.6" stroke-dasharray="{h.dash}"/>'
            )
    for s, x, y in data:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = _path(tx(x), ty(y))
        if not d:
            continue
        dash_attr = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<path d="{d}" fill="none" stroke="{s.color}" stroke-width="{s.width:g}" '
            f'stroke-opacity="{s.opacity:g}" stroke-linejoin="round"{dash_attr}>'
            f"<title>{escape(s.name)}</title></path>"
        )
    parts.append("</g>")
    for s, x, y in data:
        if not s.markers:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            pxs, pys = tx(x).tolist(), ty(y).tolist()
        for px, py, vx, vy in zip(pxs, pys, x.tolist(), y.tolist()):
            if math.isfinite(px) and math.isfinite(py):
                parts.append(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{s.color}">'
                    f"<title>{escape(s.name)} at {vx:g}: {vy:.6g}</title></circle>"
                )
    parts.append(_text(left + pw / 2, height - 8, xlabel, fill="#333"))
    if ylabel:
        parts.append(_ylabel(top + ph / 2, ylabel))
    parts.append("</svg>")
    return "\n".join(parts)


def _jitter(k: int, spread: float) -> list[float]:
    if k <= 1:
        return [0.0]
    step = min(7.0, spread / (k - 1))
    return [(i - (k - 1) / 2) * step for i in range(k)]


def box_plot(
    items: Sequence[BoxItem],
    *,
    title: str,
    ylabel: str = "",
    height: int = 270,
    ident: str = "",
) -> str:
    """Box plot of each item's values with the individual values drawn on top.

    Three or more values get a box (quartiles), a median line and Tukey whiskers (1.5 IQR);
    fewer get their points and a mean tick only. Hollow points are training-scan cases; every
    point has a tooltip naming its case.

    Args:
        items: One entry per method, in display order.
        title: Chart title.
        ylabel: Y axis label.
        height: SVG height in pixels.
        ident: Unique id prefix (unused by this chart; kept for a uniform signature).

    Returns:
        The SVG document.
    """
    del ident
    size = 11
    label_w = max((text_width(it.label, size) for it in items), default=0.0)
    left, right, top = 52.0, 8.0, 30.0
    # Upright labels unless they are long or would make the chart too wide for four charts
    # in a row of the page.
    flat = max(48.0, label_w + 12)
    rotate = label_w + 12 > 84 or left + right + flat * len(items) > 290
    slot = 38.0 if rotate else flat
    angle = math.radians(32)
    bottom = 22.0 + (label_w * math.sin(angle) + 12 if rotate else 18)
    width = int(max(180.0, left + right + slot * len(items), text_width(title, 13) + 24))
    slot = (width - left - right) / max(1, len(items))
    parts = _open(width, height, title)
    parts.append(_text(width / 2, 17, title, size=13, font_weight="600", fill="#222"))
    ph = height - top - bottom
    values = np.asarray([v for it in items for v in it.values if math.isfinite(v)], dtype=float)
    if values.size == 0 or ph < 20:
        parts.append(_text(width / 2, top + max(ph, 20) / 2, "no finite values", fill="#888"))
        parts.append("</svg>")
        return "\n".join(parts)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    pad = 0.08 * span if span > 0 else max(abs(hi) * 0.02, 1e-3)
    lo, hi = lo - pad, hi + pad

    def ty(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    ticks = [t for t in nice_ticks(lo, hi, 5) if lo <= t <= hi]
    for t, lab in zip(ticks, format_ticks(ticks)):
        parts.append(_hline(left, width - right, ty(t), _GRID))
        parts.append(_text(left - 6, ty(t) + 4, lab, anchor="end", fill=_AXIS))
    parts.append(
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(width - left - right)}" '
        f'height="{_num(ph)}" fill="none" stroke="{_AXIS}"/>'
    )
    for i, it in enumerate(items):
        cx = left + slot * (i + 0.5)
        color = "#d9480f" if it.highlight else "#1f5fa8"
        fill = "#ffe8d9" if it.highlight else "#dfeaf7"
        finite = [
            (float(v), n, h) for v, n, h in zip(it.values, it.names, it.hollow) if math.isfinite(v)
        ]
        vals = np.asarray([v for v, _, _ in finite], dtype=float)
        half = min(18.0, slot * 0.3)
        if vals.size >= 3:
            q1, med, q3 = (float(q) for q in np.percentile(vals, [25, 50, 75]))
            iqr = q3 - q1
            w_lo = float(vals[vals >= q1 - 1.5 * iqr].min())
            w_hi = float(vals[vals <= q3 + 1.5 * iqr].max())
            parts.append(
                f'<line x1="{_num(cx)}" y1="{_num(ty(w_lo))}" x2="{_num(cx)}" y2="{_num(ty(w_hi))}" '
                f'stroke="{color}" stroke-width="1.2"/>'
            )
            for w in (w_lo, w_hi):
                parts.append(_hline(cx - half / 2, cx + half / 2, ty(w), color))
            parts.append(
                f'<rect x="{_num(cx - half)}" y="{_num(ty(q3))}" width="{_num(2 * half)}" '
                f'height="{_num(max(ty(q1) - ty(q3), 0.8))}" fill="{fill}" stroke="{color}" stroke-width="1.2"/>'
            )
            parts.append(_hline(cx - half, cx + half, ty(med), color, ' stroke-width="2.2"'))
        elif vals.size == 2:
            parts.append(
                _hline(cx - half, cx + half, ty(float(vals.mean())), color, ' stroke-width="2"')
            )
        for (v, name, hollow), dx in zip(finite, _jitter(len(finite), half * 1.4)):
            face = "#ffffff" if hollow else color
            parts.append(
                f'<circle cx="{_num(cx + dx)}" cy="{_num(ty(v))}" r="3.4" fill="{face}" '
                f'stroke="{color}" stroke-width="1.4"><title>{escape(name)}: {v:.6g}'
                f"{' (training scan)' if hollow else ''}</title></circle>"
            )
        ly = top + ph + 14
        weight = ' font-weight="600"' if it.highlight else ""
        if rotate:
            parts.append(
                f'<text x="{_num(cx)}" y="{_num(ly)}" text-anchor="end" font-size="{size}" fill="#222"{weight} '
                f'transform="rotate(-32 {_num(cx)} {_num(ly)})">{escape(it.label)}</text>'
            )
        else:
            parts.append(
                f'<text x="{_num(cx)}" y="{_num(ly)}" text-anchor="middle" font-size="{size}" '
                f'fill="#222"{weight}>{escape(it.label)}</text>'
            )
    if ylabel:
        parts.append(_ylabel(top + ph / 2, ylabel))
    parts.append("</svg>")
    return "\n".join(parts)


def colorbar(
    vmax: float,
    *,
    label: str,
    colors: Sequence[str],
    width: int = 300,
    height: int = 58,
    ident: str = "",
) -> str:
    """A horizontal colour bar from 0 to ``vmax`` with ticks and a label.

    Args:
        vmax: Value of the last colour (values above it share that colour).
        label: Text under the ticks (quantity and unit).
        colors: Evenly spaced colours from 0 to ``vmax``, ``#rrggbb`` (drawn as solid segments).
        width: SVG width in pixels.
        height: SVG height in pixels.
        ident: Unused (the bar defines no ids); kept for a uniform signature.

    Returns:
        The SVG document.
    """
    del ident
    parts = _open(width, height, label)
    x0, x1, y0, bar_h = 12.0, width - 12.0, 6.0, 14.0
    n = len(colors)
    step = (x1 - x0) / max(1, n)
    for i, c in enumerate(colors):  # solid segments: no gradient ids to clash when inlined twice
        parts.append(
            f'<rect x="{_num(x0 + i * step)}" y="{_num(y0)}" width="{_num(step + 0.6)}" '
            f'height="{_num(bar_h)}" fill="{c}"/>'
        )
    parts.append(
        f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(x1 - x0)}" height="{_num(bar_h)}" '
        f'fill="none" stroke="{_AXIS}" stroke-width="0.8"/>'
    )
    vmax = float(vmax) if math.isfinite(vmax) and vmax > 0 else 1.0
    ticks = [t for t in nice_ticks(0.0, vmax, 4) if 0 <= t <= vmax * (1 + 1e-9)]
    for t, lab in zip(ticks, format_ticks(ticks)):
        x = x0 + (x1 - x0) * t / vmax
        parts.append(
            f'<line x1="{_num(x)}" y1="{_num(y0 + bar_h)}" x2="{_num(x)}" y2="{_num(y0 + bar_h + 4)}" '
            f'stroke="{_AXIS}"/>'
        )
        parts.append(_text(x, y0 + bar_h + 15, lab, fill=_AXIS))
    parts.append(_text(width / 2, height - 5, label, fill="#333"))
    parts.append("</svg>")
    return "\n".join(parts)
