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
LOWER_IS_BETTER = ("nrmse", "mae", "hfen")


def _fmt(key: str, value: float) -> str:
    if key == "psnr":
        return f"{value:.2f}"
    if key in ("ssim", "nrmse", "hfen"):
        return f"{value:.4f}"
    return f"{value:.4g}"


def _shipped(card: dict[str, Any]) -> str:
    if card.get("shipped_checkpoint") == "best.pt":
        return (
            f"the generator (EMA) of the best validation step ({card.get('shipped_step')}) on the "
            "training-side validation subject"
        )
    return "the final step's generator"


def _minutes(card: dict[str, Any]) -> float:
    """Training wall time: the card's own total when recorded (runs resumed over several
    segments), else the last segment's seconds."""
    if card.get("wall_seconds_total"):
        return float(card["wall_seconds_total"]) / 60
    return float(card.get("train_summary", {}).get("seconds", 0)) / 60


def _val_scans(card: dict[str, Any]) -> str:
    scans = [str(v) for v in card.get("val_scans", [])]
    if not scans:
        return "the validation scans"
    held = [v for v in scans if v == "pycortex_s1"]
    kind = (
        "held-out scan (monitoring only)"
        if held
        else "training-side subject, never a held-out scan"
    )
    return ", ".join(f"`{v}`" for v in scans) + f" ({kind})"


def training_block(card: dict[str, Any]) -> list[str]:
    s = card.get("train_summary", {})
    vals = [r for r in card.get("log", []) if r.get("event") == "validation"]
    base = s.get("baseline", {})
    lines = [
        "### Training (measured)",
        "",
        f"- Recipe: `{card.get('recipe')}`; weights: {_shipped(card)}, stored as float16.",
        f"- Steps: {s.get('steps')}; training time {_minutes(card):.1f} min on "
        f"{card.get('hardware', '?')} with {card.get('torch_threads', '?')} torch thread(s) "
        f"(torch {card.get('torch_version', '?')}); divergence-guard rollbacks: {s.get('rollbacks', 0)}.",
        f"- Reproduce: `{card.get('command')}`.",
    ]
    if card.get("note"):
        lines.append(f"- Note: {card['note']}")
    if vals:
        lines += [
            "",
            f"Validation during training (`{card.get('val_protocol', 'recipe protocol')}`, "
            f"a crop of {_val_scans(card)}; the untrained baseline is the low-quality input):",
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
    if not res:  # a PSNR stage is measured in its GAN model's cases (its rows are there)
        from medsr.artifact.zoo import BUNDLED

        gan = [m.name for m in BUNDLED.values() if m.psnr_model == name]
        res = quality.get("models", {}).get(gan[0]) if gan else None
    if not res:
        return ["### Held-out quality", "", "Not measured yet: run `benchmarks/quality.py`."]
    lines = [
        f"### Held-out quality (measured, `{res.get('source', 'benchmarks/quality.py')}`)",
        "",
        f"Cases: {', '.join('`' + c + '`' for c in res['cases'])}"
        + (f"; {res['seeds']} noise draws each" if res.get("seeds") else "")
        + ". Mean +- population std over cases; best per column in bold.",
    ]
    groups = list(dict.fromkeys((s.get("group", ""), s["protocol"]) for s in res["summary"]))
    for group, protocol in groups:
        rows = [
            s for s in res["summary"] if (s.get("group", ""), s["protocol"]) == (group, protocol)
        ]
        keys = [k for k in ("psnr", "ssim", "nrmse", "hfen") if k in rows[0]["mean"]]
        if not keys:  # ct-tissue-hu: mean HU shifts per tissue, nearer 0 is better
            keys = [k for k in rows[0]["mean"] if not k.endswith("_ref")]
            lines += [
                "",
                f"Protocol `{protocol}` (candidate minus reference, HU; nearer 0 is better):",
                "",
                f"| method | n | {' | '.join(keys)} |",
                "|---|---:|" + "---:|" * len(keys),
            ]
            lines += [
                f"| {r['method']} | {r['n']} | "
                + " | ".join(f"{r['mean'][k]:+.1f} +- {r['std'][k]:.1f}" for k in keys)
                + " |"
                for r in rows
            ]
            continue
        best = {k: (min if k in LOWER_IS_BETTER else max)(r["mean"][k] for r in rows) for k in keys}
        head = " | ".join(
            f"{k.upper()}{' [dB]' if k == 'psnr' else ''} {'(lower better)' if k in LOWER_IS_BETTER else ''}".strip()
            for k in keys
        )
        lines += [
            "",
            f"Protocol `{protocol}`" + (f", {group}" if group else "") + ":",
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
    for case, curve in res.get("gan_weight_curves", {}).items():
        pts = curve.get("points", [])
        if not pts:
            continue
        lines += [
            "",
            f"`--gan-weight` on `{case}` ({curve.get('protocol', 'brain-mask')}, crop "
            f"{(curve.get('crop') or {}).get('text', '?')}; 0 = the PSNR stage, 1 = the GAN stage):",
            "",
            "| A | PSNR [dB] | SSIM | HFEN |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {p['gan_weight']:g} | {p['psnr']:.2f} | {p['ssim']:.4f} | {p['hfen']:.4f} |"
            for p in pts
        ]
    dc = {k: v for k, v in res.get("data_consistency", {}).items() if v}
    if dc:
        lines += [
            "",
            "Relative k-space consistency error of the model output (before -> after data consistency):",
            "",
        ]
        lines += [f"- `{k}`: {v['before']:.3g} -> {v['after']:.2g}" for k, v in dc.items()]
    return lines


#: Why the published numbers are or are not comparable with ours (one paragraph per model).
COMPARABILITY = {
    "mdcsrn-t1-k2": (
        "Published: mDCSRN and mDCSRN-WGAN on 1,113 HCP subjects (0.7 mm T1, k-space truncation, "
        "reported as 4x resolution-downgraded). The results table of the paper could not be "
        "retrieved from any reachable copy, so no published number is printed. It would not be "
        "comparable anyway: HCP single-subject scans at 0.7 mm and 1.5 x 10^5 GPU steps against "
        "four template brains at 1 mm and a CPU budget of a few thousand steps, and their metrics' "
        "region and intensity range are not stated in what we could read."
    ),
    "srgan-t1-x2": (
        "Published (context only): SRGAN and SRResNet at x4 on natural images (Set5, Set14, "
        "BSD100; values quoted from the paper's Table 2 by secondary sources, the paper itself "
        "was not reachable). Not comparable: natural RGB images, x4 instead of x2, a VGG "
        "perceptual loss and 10^6 iterations on ImageNet. The pattern they show is the one to "
        "expect here too: the GAN stage trades PSNR/SSIM for texture (SRGAN below SRResNet)."
    ),
    "dfgan-ct-qd": (
        "Published: ORG (the quarter-dose input) and DFGAN / AttnDFGAN from the authors' course "
        "slides and notebooks (paired normal/quarter-dose slices, 600 test slices; the data set "
        "is not named, the pairing fits the AAPM-Mayo challenge). The `dfgan-original` protocol "
        "reproduces their metric (raw HU, data range = the prediction's maximum) so the numbers "
        "are computed the same way, but they are still not comparable: real scanner quarter-dose "
        "data against our projection-domain simulation on two held-out head slices, and their "
        "model trained on thousands of slices against ours (the same 7.76 M-parameter U-Net since "
        "stage 5) trained on a few hundred slices for 10,000 CPU steps in five stages. Compare "
        "the gain over ORG, not the absolute values."
    ),
}
COMPARABILITY["mdcsrn-t1-k2-psnr"] = (
    "The L1 stage of mDCSRN (the paper's 'mDCSRN' row before the WGAN stage); see `mdcsrn-t1-k2` "
    "for why the published numbers are not comparable."
)
COMPARABILITY["srgan-t1-x2-psnr"] = (
    "The content-loss stage of SRGAN (the paper's SRResNet); see `srgan-t1-x2` for why the "
    "published numbers are not comparable."
)
COMPARABILITY["mdcsrn-t1-k2-wgan"] = (
    "The weight-clipping WGAN baseline of the mDCSRN study; see `mdcsrn-t1-k2` for why the "
    "published numbers are not comparable."
)
COMPARABILITY["attn-dfgan-ct-qd"] = (
    "The attention variant of DFGAN from the same course material; see `dfgan-ct-qd` for why the "
    "published numbers are not comparable (real scanner quarter dose, thousands of slices)."
)
_NOT_RECORDED = (
    "No published number is recorded for this system in `benchmarks/published_numbers.json`; the "
    "papers report other data (natural images, HCP or fastMRI at other scales) with budgets of "
    "10^5 GPU steps, so the held-out comparison with the baselines above is the measure here."
)
for _name in ("esrgan-t1-x4", "srrescycgan-t1-x4", "srrescycgan-t1-x4-unpaired",
              "disgan-t1-x2-psnr", "disgan-t1-x2", "threeplayer-t1-x2"):  # fmt: skip
    COMPARABILITY[_name] = _NOT_RECORDED
COMPARABILITY["srgan-x3"] = (
    "No number of the x3 report is recorded in `benchmarks/published_numbers.json`: it evaluates "
    "on its own brain-MRI and chest X-ray collections, which are not available here, so the "
    "held-out comparison with cubic above is the measure."
)
PUBLISHED_KEY = {
    "mdcsrn-t1-k2": "mdcsrn_wgan",
    "mdcsrn-t1-k2-wgan": "mdcsrn_wgan",
    "mdcsrn-t1-k2-psnr": "mdcsrn_wgan",
    "srgan-t1-x2": "srgan",
    "srgan-t1-x2-psnr": "srgan",
    "dfgan-ct-qd": "dfgan",
    "attn-dfgan-ct-qd": "dfgan",
}


def published_block(name: str, published: dict[str, Any]) -> list[str]:
    entry = published.get(PUBLISHED_KEY.get(name, ""), {})
    rows = [r for r in entry.get("rows", []) if r.get("psnr") is not None]
    lines = ["", f"**Published numbers.** {COMPARABILITY[name]}"]
    if rows:
        lines += ["", "| data | method | PSNR [dB] | SSIM |", "|---|---|---:|---:|"]
        for r in rows:
            ssim = f"{r['ssim']:.4g}" if r.get("ssim") is not None else "n/a"
            lines.append(f"| {r.get('dataset', '-')} | {r['method']} | {r['psnr']:.2f} | {ssim} |")
        lines += ["", f"Source: {entry.get('url', '?')} ({entry.get('table') or 'see the JSON'})."]
    lines += ["", "Full record with sources: `benchmarks/published_numbers.json`."]
    return lines


def demo_block(demo: dict[str, Any]) -> list[str]:
    if not demo:
        return ["Not measured yet: run `benchmarks/demo_time.py`."]
    runs = ", ".join(f"{r['wall_s']:.0f} s" for r in demo["runs"])
    return [
        f"`medsr demo` (default scan, {len(demo['runs'][0]['cases'])} cases, report included) as a "
        f"fresh process on {demo['cpus_used']} of {demo['cpu_count']} cores: {runs} "
        f"(worst {demo['worst_wall_s']:.0f} s; target < {demo['target_s']:.0f} s: "
        f"**{'met' if demo['met'] else 'NOT met'}**). Load average before/after: "
        f"{demo['load_before']:.2f} / {demo['load_after']:.2f}.",
    ]


def train_speed_block(res: dict[str, Any]) -> list[str]:
    if not res:
        return ["Not measured yet: run `benchmarks/train_speed.py`."]
    lines = [
        f"{res['cpu']}, {res['threads']} torch threads, torch {res['torch']}; steps/s over "
        f"{res['steps']} steps after a warm-up, all configurations of a recipe in one process.",
        "",
        "| recipe (batch x patch) | configuration | trainer steps/s | samples/s | bare loop steps/s "
        "| trainer / bare | vs fp32 NCHW |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in res["recipes"].items():
        shape = "x".join(str(p) for p in row["patch"])
        for label, c in row["configs"].items():
            lines.append(
                f"| `{name}` ({row['batch']} x {shape}) | {label} | {c['trainer_steps_per_s']:.3f} | "
                f"{c['trainer_samples_per_s']:.2f} | {c['bare']['steps_per_s']:.3f} | "
                f"{c['trainer_vs_bare']:.2f} | {row['speedup_vs_fp32_nchw'][label]:.2f}x |"
            )
    lines += [
        "",
        "Profile of one step of the recipe's configuration in the bare loop (seconds per step):",
        "",
        "| recipe | batch sampling | forward + loss | backward | optimiser |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in res["recipes"].items():
        b = row["configs"]["recipe (channels-last + bf16)"]["bare"]
        lines.append(
            f"| `{name}` | {b['data_s_per_batch']:.4f} | {b['forward_s']:.3f} | "
            f"{b['backward_s']:.3f} | {b['optimizer_s']:.4f} |"
        )
    return lines


def _adapt_lr_text(lr: float | None) -> str:
    return f" at lr {lr:g}" if lr is not None else " (learning rate per case below)"


def card_adapt_block(name: str, res: dict[str, Any]) -> list[str]:
    """The held-out gain of ``--adapt`` for one model, for its card."""
    cases = [c for c in res.get("cases", []) if c["model"] == name]
    if not cases:
        return []
    lines = [
        "",
        f"Per-scan adaptation (`medsr enhance --adapt {res['options']['steps']}`) on the held-out "
        f"`{res['scan']}`, from `benchmarks/adapt.py` (brain mask; docs/BENCHMARKS.md, "
        "'Adaptation'):",
        "",
        "| lr, loss | PSNR without [dB] | PSNR with [dB] | gain [dB] | stop (best step) | seconds without / with |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for c in cases:
        a, m = c["adapt"], c["metrics"]
        lines.append(
            f"| {_adapt_lr(a.get('lr'), a.get('loss'))} | {m[name]['psnr']:.3f} | "
            f"{m[name + ' --adapt']['psnr']:.3f} | {c['gain_db']:+.3f} | "
            f"{a['stop_reason']} ({a['best_step']}) | "
            f"{c['seconds_plain']:.0f} / {c['seconds_adapted_total']:.0f} |"
        )
    return lines


def _adapt_lr(lr: float | None, loss: str | None = None) -> str:
    text = f"{lr:g}" if lr is not None else "the default (per case below)"
    return f"{text}, {loss.upper()}" if loss else text


def adapt_block(res: dict[str, Any]) -> list[str]:
    if not res:
        return ["Not measured yet: run `benchmarks/adapt.py`."]
    opts = res["options"]
    lines = [
        f"Scan `{res['scan']}` (head crop of at most 160 x 256 x 256 voxels); `--adapt "
        f"{opts['steps']}`{_adapt_lr_text(opts['lr'])}, validation every {opts['val_every']} steps, "
        f"patience {opts['patience']}; {opts.get('threads', 2)} torch thread(s). Brain-mask "
        "metrics." + (f" Note: {res['note']}." if res.get("note") else ""),
        "",
        "| case | method | PSNR [dB] | SSIM | HFEN (lower better) |",
        "|---|---|---:|---:|---:|",
    ]
    for case in res["cases"]:
        for method, m in case["metrics"].items():
            if method.endswith("--adapt") and case["adapt"].get("lr") is not None:
                loss = case["adapt"].get("loss")
                method += f" (lr {case['adapt']['lr']:g}{', ' + loss.upper() if loss else ''})"
            lines.append(
                f"| {case['kind']} `{case['model']}` | {method} | {m['psnr']:.3f} | "
                f"{m['ssim']:.4f} | {m['hfen']:.4f} |"
            )
    lines += ["", "| case | lr, loss | gain of --adapt [dB] | steps run (best) | stop | adaptation s | "
              "whole enhancement s (without / with) |", "|---|---:|---:|---:|---|---:|---:|"]  # fmt: skip
    for case in res["cases"]:
        a = case["adapt"]
        lines.append(
            f"| {case['kind']} `{case['model']}` | {_adapt_lr(a.get('lr', opts['lr']), a.get('loss'))} | "
            f"{case['gain_db']:+.3f} | {a['steps_run']} "
            f"({a['best_step']}) | {a['stop_reason']} | {a['seconds']:.0f} | "
            f"{case['seconds_plain']:.0f} / {case['seconds_adapted_total']:.0f} |"
        )
    return lines


def _tissue_rows(case: dict[str, Any], methods: list[str]) -> list[str]:
    rows = [
        "| Method | Dice CSF | Dice GM | Dice WM | Dice mean | PSNR (brain) | SSIM | HFEN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        d = case["methods"][method]["scores"]["tissue-dice"]
        b = case["methods"][method]["scores"]["brain-mask"]
        rows.append(
            f"| {method} | {d['dice_csf']:.4f} | {d['dice_gm']:.4f} | {d['dice_wm']:.4f} | "
            f"**{d['dice_mean']:.4f}** | {b['psnr']:.2f} | {b['ssim']:.4f} | {b['hfen']:.4f} |"
        )
    return rows


def tissue_dice_block(res: dict[str, Any]) -> list[str]:
    """benchmarks/tissue_dice.py: every case's methods, Dice beside the image metrics."""
    if not res.get("cases"):
        return [
            "(not measured: run `python benchmarks/tissue_dice.py --out benchmarks/results/tissue_dice.json`)"
        ]
    mask = res["mask"]
    out = [
        f"Held-out pycortex S1 inside its ROBEX brain mask ({mask['brain_voxels']:,} voxels, "
        f"{100 * mask['brain_fraction']:.1f} % of the head); {res['threads']} threads, "
        f"{res.get('seconds', float('nan')) / 60:.1f} min for every model and baseline. Dice of the "
        "`tissue-dice` segmenter's CSF / GM / WM labels of each candidate against the reference's; "
        "PSNR / SSIM / HFEN under `brain-mask` in the same mask.",
        "",
    ]
    for case in res["cases"].values():
        models = case["models"]
        out += [
            f"**{', '.join(models)}** (input made from the {tuple(case['shape'])} reference):",
            "",
        ]
        out += [*_tissue_rows(case, list(case["methods"])), ""]
    return out


def card_tissue_block(name: str, res: dict[str, Any]) -> list[str]:
    """A model card's tissue-Dice rows: its case's baselines and the model."""
    for case in res.get("cases", {}).values():
        if name in case["models"]:
            methods = [m for m in case["methods"] if m not in case["models"] or m == name]
            return [
                "",
                "Segmentation task on held-out S1 (`benchmarks/tissue_dice.py`, ROBEX brain mask; "
                "Dice of CSF / GM / WM labels, candidate against reference):",
                "",
                *_tissue_rows(case, methods),
            ]
    return []


def _augment_time(res: dict[str, Any]) -> str:
    secs = res.get("augment_seconds")  # None: the sets of an earlier run in --work were reused
    return "sets reused from an earlier run" if secs is None else f"{secs:.0f} s"


def seg_augment_block(res: dict[str, Any]) -> list[str]:
    """benchmarks/seg_augment.py: U-Net Dice on S1, real vs real + SR training, over seeds."""
    if not res.get("summary"):
        return [
            "(not measured: run `python benchmarks/seg_augment.py --out benchmarks/results/seg_augment.json`)"
        ]
    st = res["settings"]
    secs = [r["train_seconds"] for runs in res["runs"].values() for r in runs]
    out = [
        f"MONAI 3D U-Net, {st['steps']} steps x {st['batch']} patches of {st['patch']}^3, Adam "
        f"{st['lr']:g}, {st['seeds']} seeds per arm, {res['threads']} threads, "
        f"{min(secs):.0f}-{max(secs):.0f} s per training; SR copies from `{res['model']}` "
        f"(`medsr augment`, {_augment_time(res)}) of {', '.join(res['subjects'])}. "
        "Mean +- sample std over seeds; the difference is paired by seed.",
        "",
        "| Test input | Class | Real | Real + SR | Difference | Seeds better | Paired t p |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"test_real": "S1", "test_sr": "S1 degraded + SR"}
    for test, per in res["summary"].items():
        for key, v in per.items():
            cls = key.replace("dice_", "").upper() if key != "dice_mean" else "**mean**"
            out.append(
                f"| {names[test]} | {cls} | {v['real'][0]:.4f} +- {v['real'][1]:.4f} | "
                f"{v['real+sr'][0]:.4f} +- {v['real+sr'][1]:.4f} | "
                f"{v['difference'][0]:+.4f} +- {v['difference'][1]:.4f} | "
                f"{v['seeds_better']} of {st['seeds']} | {v.get('p_paired_t', float('nan')):.2f} |"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", type=Path, default=ROOT / "benchmarks/results/quality.json")
    parser.add_argument("--demo", type=Path, default=ROOT / "benchmarks/results/demo_time.json")
    parser.add_argument("--systems", type=Path, default=ROOT / "benchmarks/results/systems.json")
    args = parser.parse_args(argv)
    from medsr.artifact.zoo import BUNDLED, read_card

    quality = json.loads(args.quality.read_text()) if args.quality.is_file() else {}
    if args.systems.is_file():  # the demo=False models, measured by benchmarks/systems.py
        systems = json.loads(args.systems.read_text()).get("models", {})
        quality.setdefault("models", {}).update(
            {k: {**v, "source": "benchmarks/systems.py"} for k, v in systems.items()}
        )
    published = json.loads((ROOT / "benchmarks/published_numbers.json").read_text())
    demo = json.loads(args.demo.read_text()) if args.demo.is_file() else {}
    bench: list[str] = []
    for name in BUNDLED:
        part = quality_block(name, quality)
        part[0] = f"### `{name}`"
        bench += [*part, *published_block(name, published), ""]
    _replace_block(ROOT / "docs/BENCHMARKS.md", "QUALITY", bench)
    _replace_block(ROOT / "docs/BENCHMARKS.md", "DEMO", demo_block(demo))
    results = ROOT / "benchmarks/results"
    for tag, file, render in (
        ("TRAIN_SPEED", "train_speed.json", train_speed_block),
        ("ADAPT", "adapt_pycortex_s1.json", adapt_block),
        ("ADAPT_TUNE", "adapt_tune.json", adapt_block),
        ("TISSUE_DICE", "tissue_dice.json", tissue_dice_block),
        ("SEG_AUGMENT", "seg_augment.json", seg_augment_block),
    ):
        path = results / file
        _replace_block(
            ROOT / "docs/BENCHMARKS.md",
            tag,
            render(json.loads(path.read_text()) if path.is_file() else {}),
        )
    for name in BUNDLED:
        doc = ROOT / "docs" / "models" / f"{name}.md"
        text = doc.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{doc}: no {BEGIN} ... {END} block")
        card = read_card(name)
        adapt_file = results / "adapt_pycortex_s1.json"
        adapt = json.loads(adapt_file.read_text()) if adapt_file.is_file() else {}
        tissue_file = results / "tissue_dice.json"
        tissue = json.loads(tissue_file.read_text()) if tissue_file.is_file() else {}
        block = "\n".join(
            [
                BEGIN, "", *training_block(card), "", *quality_block(name, quality),
                *card_adapt_block(name, adapt), *card_tissue_block(name, tissue), "", END,
            ]
        )  # fmt: skip
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)

        def keep(_m: re.Match[str], b: str = block) -> str:
            return b

        doc.write_text(pattern.sub(keep, text))
        print(f"updated {doc.relative_to(ROOT)}")
    return 0


def _replace_block(path: Path, tag: str, lines: list[str]) -> None:
    begin, end = f"<!-- BEGIN {tag} -->", f"<!-- END {tag} -->"
    text = path.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: no {begin} ... {end} block")
    block = "\n".join([begin, "", *lines, "", end])
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _m: block, text))
    print(f"updated {path.relative_to(ROOT)} ({tag})")


if __name__ == "__main__":
    raise SystemExit(main())
