"""``medsr models``: the bundled trained models and where their cards are."""

from __future__ import annotations

import argparse

HELP = "list the bundled trained models (use a name with --model)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from medsr.artifact.zoo import BUNDLED, available, read_card, weights_dir

    installed = set(available())
    rows = []
    for name, model in BUNDLED.items():
        card = read_card(name) if name in installed else {}
        path = weights_dir() / model.weights_file
        rows.append(
            {
                "name": name,
                "task": model.task,
                "modality": model.modality,
                "system": model.system,
                "generator": model.generator,
                "recipe": model.config,
                "stage": model.stage,
                "psnr_model": model.psnr_model or None,
                "comparison": model.comparison,
                "installed": name in installed,
                "size_mb": round(path.stat().st_size / 2**20, 2) if name in installed else None,
                "steps": card.get("train_summary", {}).get("steps"),
                "summary": model.summary,
                "card": model.doc,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        state = f"{r['size_mb']} MB, {r['steps']} steps" if r["installed"] else "NOT INSTALLED"
        print(f"{r['name']:<18} {r['task']:<10} {r['modality']:<3} {r['stage']:<5} {state}")
        print(f"{'':<18} {r['summary']}  [{r['card']}]")
    return 0
