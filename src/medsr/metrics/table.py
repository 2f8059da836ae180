"""Plain-text tables of per-case results and their mean +- std (used by the CLI and the demo)."""

from __future__ import annotations

from collections.abc import Sequence

from medsr.metrics.aggregate import CaseResult, metric_names, summarize

#: Header label and number format per metric; unknown metrics use ``.4g``.
_FORMATS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR [dB]", ".2f"),
    "ssim": ("SSIM", ".4f"),
    "nrmse": ("NRMSE", ".4f"),
    "mae": ("MAE", ".4g"),
    "hfen": ("HFEN", ".4f"),
    "dice_csf": ("Dice CSF", ".4f"),
    "dice_gm": ("Dice GM", ".4f"),
    "dice_wm": ("Dice WM", ".4f"),
    "dice_mean": ("Dice mean", ".4f"),
}


def _fmt(name: str, value: float) -> str:
    return format(value, _FORMATS.get(name, (name, ".4g"))[1])


def _label(name: str) -> str:
    return _FORMATS.get(name, (name, ""))[0]


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(rows: Sequence[CaseResult], *, per_case: bool = True) -> str:
    """Render per-case rows (optional) and one mean +- std line per method and protocol.

    Args:
        rows: Per-case results.
        per_case: Include the per-case table above the summary.

    Returns:
        The text, without a trailing newline; an explanatory line when ``rows`` is empty.
    """
    if not rows:
        return "(no results)"
    names = metric_names(rows)
    blocks = []
    if per_case:
        table = [["case", "method", "protocol", *(_label(k) for k in names)]]
        for r in rows:
            cells = [_fmt(k, r.metrics[k]) if k in r.metrics else "-" for k in names]
            table.append([r.case, r.method, r.protocol, *cells])
        blocks.append(_align(table))
    table = [["method", "protocol", "n", *(f"{_label(k)} mean +- std" for k in names)]]
    for s in summarize(rows):
        cells = [
            f"{_fmt(k, s.mean[k])} +- {_fmt(k, s.std[k])}" if k in s.mean else "-" for k in names
        ]
        table.append([s.method, s.protocol, str(s.n), *cells])
    blocks.append(_align(table))
    return "\n\n".join(blocks)
