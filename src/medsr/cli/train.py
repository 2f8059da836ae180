"""``medsr train CONFIG [--set key=value ...] [--resume RUN_DIR] [--out RUN_DIR]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HELP = "train a model from a YAML recipe into a self-describing checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` arguments."""
    parser.add_argument(
        "config", nargs="?", metavar="CONFIG", help="YAML recipe (optional with --resume)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.steps=1000 (repeatable)",
    )
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    parser.add_argument(
        "--out", metavar="RUN_DIR", help="output folder (default runs/<name>-<time>)"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the config, print it resolved and stop"
    )
    parser.add_argument(
        "--no-progress",
        "--quiet",
        dest="no_progress",
        action="store_true",
        help="no progress bar (JSONL log only)",
    )


def resolve(args: argparse.Namespace) -> tuple[object, Path, bool]:
    """``(config, run_dir, resume)`` from the command line.

    Raises:
        ConfigError: For a missing config, a bad override or a resume that changes the recipe.
    """
    from medsr.config import config_from_plain, load_config, to_plain
    from medsr.config.load import apply_overrides
    from medsr.errors import ConfigError
    from medsr.train.rundir import check_resume_config, load_resume_checkpoint

    if args.resume:
        run_dir = Path(args.resume)
        if args.out and Path(args.out) != run_dir:
            raise ConfigError("--resume continues RUN_DIR in place; do not also pass --out")
        latest = load_resume_checkpoint(run_dir)  # with its training state, or refused
        stored = latest.config
        step = int((latest.train_state or {}).get("step", 0))
        if args.config:
            cfg = load_config(args.config, overrides=args.overrides)
        else:
            cfg = config_from_plain(apply_overrides(stored, args.overrides))
        check_resume_config(stored, to_plain(cfg), step=step)
        return cfg, run_dir, True
    if not args.config:
        raise ConfigError("give a CONFIG file (or --resume RUN_DIR)")
    cfg = load_config(args.config, overrides=args.overrides)
    out = args.out or f"runs/{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return cfg, Path(out), False


def run(args: argparse.Namespace) -> int:
    """Train, then print where the checkpoint is."""
    from medsr.config import dump_yaml
    from medsr.train import train_from_config

    cfg, run_dir, resume = resolve(args)
    if args.check:
        print(dump_yaml(cfg), end="")  # type: ignore[arg-type]
        return 0
    result = train_from_config(
        cfg,  # type: ignore[arg-type]
        run_dir,
        resume=resume,
        progress=False if args.no_progress else None,
    )
    if result.model_path is None:  # a non-zero rank of a distributed job
        return 0
    best = "n/a" if result.best_value is None else f"{result.best_value:.4g}"
    base = result.baseline.get(result.metric)
    lines = [
        f"medsr train: {result.steps} steps in {result.seconds:.0f} s -> {result.run_dir}",
        f"  model:      {result.model_path}",
        f"  best {result.metric}: {best} (step {result.best_step}) -> {result.run_dir / 'best.pt'}",
    ]
    if base is not None:
        lines.append(f"  baseline {result.metric}: {base:.4g} (interpolation / low-quality input)")
    if result.rollbacks:
        lines.append(f"  divergence guard: {result.rollbacks} rollback(s), see log.jsonl")
    print("\n".join(lines), file=sys.stdout)
    return 0
