"""Reproduce a bundled model: train it from its recipe, then ship it into ``src/medsr/weights/``.

    python scripts/train_bundled.py mdcsrn-t1-k2 [--threads 1] [--device cpu|cuda]
    python scripts/train_bundled.py srgan-t1-x2 --bundle-only runs/bundled/srgan_t1_x2

Training runs ``medsr train configs/bundled/<recipe>.yaml --out runs/bundled/<recipe>`` in this
process; the model's shipped checkpoint (the best validation step on a training-side subject for the
content-loss models, the last step for the GAN stages) is written as float16 weights with a JSON
training record next to it (:func:`medsr.artifact.zoo.bundle_run`).
The shipped models were made this way on CPU; docs/models/<name>.md gives each one's budget.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from medsr.artifact.zoo import BUNDLED, bundle_run
    from medsr.demo import cpu_name

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(BUNDLED))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the recipe's)")
    parser.add_argument("--out", default=None, help="run folder (default runs/bundled/<recipe>)")
    parser.add_argument("--bundle-only", metavar="RUN_DIR", help="ship an already finished run")
    parser.add_argument("--weights-dir", default=None, help="where to write (default: package)")
    parser.add_argument("--note", default=None, help="a remark for the card (e.g. shared CPU)")
    parser.add_argument(
        "--checkpoint", default=None, help="the run's checkpoint to ship (default: the model's)"
    )
    args = parser.parse_args(argv)

    import torch

    model = BUNDLED[args.name]
    if args.threads:
        torch.set_num_threads(args.threads)
    record = {
        "hardware": cpu_name() if (args.device or "cpu") == "cpu" else torch.cuda.get_device_name(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "command": f"python scripts/train_bundled.py {args.name}"
        + (f" --threads {args.threads}" if args.threads else "")
        + (f" --device {args.device}" if args.device else ""),
    }
    if args.note:
        record["note"] = args.note
    if args.bundle_only:
        run_dir = Path(args.bundle_only)
    else:
        from medsr.config import load_config
        from medsr.train import train_from_config

        overrides = [f"train.device={args.device}"] if args.device else []
        cfg = load_config(ROOT / model.config, overrides=overrides)
        run_dir = Path(args.out or ROOT / "runs" / "bundled" / Path(model.config).stem)
        t0 = time.perf_counter()
        train_from_config(cfg, run_dir, progress=sys.stderr.isatty())
        record["wall_seconds"] = round(time.perf_counter() - t0, 1)
    weights, card = bundle_run(
        run_dir, args.name, out_dir=args.weights_dir, record=record, checkpoint=args.checkpoint
    )
    size = weights.stat().st_size / 2**20
    print(f"wrote {weights} ({size:.2f} MB) and {card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
