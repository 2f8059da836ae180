"""Fill the measured part of each model card from the shipped training record and the benchmark.

    python scripts/model_cards.py [--quality benchmarks/results/quality.json]

Each ``docs/models/<name>.md`` keeps its hand-written text; the block between
``<!-- BEGIN MEASURED -->`` and ``<!-- END MEASURED -->`` is rewritten from
``src/medsr/weights/<name>.json`` (steps, time, hardware, validation curve) and the held-out results of
``benchmarks/quality.py``, so no number in it is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN MEASURED -->", "<!-- END MEASURED -->"
LOWER_IS_BETTER = ("nrmse", "mae")


def _fmt(key: str, value: float) -> str:
    if key == "psnr":
        return f"{value:.2f}"
    if key in ("ssim", "nrmse"):
        return f"{value:.4f}"
    return f"{value:.4g}"


def training_block(card: dict[str, Any]) -> list[str]:
    s = card.get("train_summary", {})
    vals = [r for r in card.get("log", []) if r.get("event") == "validation"]
    base = s.get("baseline", {})
    lines = [
        "### Training (measured)",
        "",
        f"- Recipe: `{card.get('recipe')}`; weights: the final step's generator, stored as float16.",
        f"- Steps: {s.get('steps')}; training time {s.get('seconds', 0) / 60:.1f} min on "
        f"{card.get('hardware', '?')} with {card.get('torch_threads', '?')} torch thread(s) "
        f"(torch {card.get('torch_version', '?')}); divergence-guard rollbacks: {s.get('rollbacks', 0)}.",
        f"- Reproduce: `{card.get('command')}`.",
    ]
    if vals:
        lines += [
            "",
            f"Validation during training (monitoring only, `{card.get('val_protocol', 'recipe protocol')}`, "
            "a crop of the held-out scans; the untrained baseline is the low-quality input):",
            "",
            "| step | PSNR [dB] | SSIM |",
            "|---:|---:|---:|",
        ]
        if base:
            lines.append(f"| input | {base['psnr']:.2f} | {base['ssim']:.4f} |")
        every = max(1, len(vals) // 8)
        shown = vals[::every]
        if shown[-1] is not vals[-1]:
            shown.append(vals[-1])
        lines += [f"| {v['step']} | {v['psnr']:.2f} | {v['ssim']:.4f} |" for v in shown]
    return lines


def quality_block(name: str, quality: dict[str, Any]) -> list[str]:
    res = quality.get("models", {}).get(name)
    if not res:
        return ["### Held-out quality", "", "Not measured yet: run `benchmarks/quality.py`."]
    lines = [
        "### Held-out quality (measured, `benchmarks/quality.py`)",
        "",
        f"Cases: {', '.join('`' + c + '`' for c in res['cases'])}"
        + (f"; {res['seeds']} noise draws each" if res.get("seeds") else "")
        + ". Mean +- population std over cases; best per column in bold.",
    ]
    protocols = list(dict.fromkeys(s["protocol"] for s in res["summary"]))
    for protocol in protocols:
        rows = [s for s in res["summary"] if s["protocol"] == protocol]
        keys = [k for k in ("psnr", "ssim", "nrmse") if k in rows[0]["mean"]]
        best = {k: (min if k in LOWER_IS_BETTER else max)(r["mean"][k] for r in rows) for k in keys}
        head = " | ".join(
            f"{k.upper()}{' [dB]' if k == 'psnr' else ''} {'(lower better)' if k in LOWER_IS_BETTER else ''}".strip()
            for k in keys
        )
        lines += [
            "",
            f"Protocol `{protocol}`:",
            "",
            f"| method | n | {head} |",
            "|---|---:|" + "---:|" * len(keys),
        ]
        for r in rows:
            cells = []
            for k in keys:
                cell = f"{_fmt(k, r['mean'][k])} +- {_fmt(k, r['std'][k])}"
                cells.append(f"**{cell}**" if r["mean"][k] == best[k] else cell)
            method = f"**{r['method']}**" if r["method"] == name else r["method"]
            lines.append(f"| {method} | {r['n']} | {' | '.join(cells)} |")
    dc = {k: v for k, v in res.get("data_consistency", {}).items() if v}
    if dc:
        lines += [
            "",
            "Relative k-space consistency error of the model output (before -> after data consistency):",
            "",
        ]
        lines += [f"- `{k}`: {v['before']:.3g} -> {v['after']:.2g}" for k, v in dc.items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", type=Path, default=ROOT / "benchmarks/results/quality.json")
    args = parser.parse_args(argv)
    from medsr.zoo import BUNDLED, read_card

    quality = json.loads(args.quality.read_text()) if args.quality.is_file() else {}
    for name in BUNDLED:
        doc = ROOT / "docs" / "models" / f"{name}.md"
        text = doc.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{doc}: no {BEGIN} ... {END} block")
        card = read_card(name)
        block = "\n".join(
            [BEGIN, "", *training_block(card), "", *quality_block(name, quality), "", END]
        )
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        doc.write_text(pattern.sub(lambda _m, b=block: b, text))
        print(f"updated {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
