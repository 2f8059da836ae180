"""Training throughput on the CPU: each bundled recipe's step through the medsr trainer, against a
bare PyTorch loop doing the same work, with a per-stage profile.

Run ``python benchmarks/train_speed.py [--threads 2] [--steps 30] [--out
benchmarks/results/train_speed.json]``; results go into the "Training throughput" section of
``docs/BENCHMARKS.md``.

Per recipe (the content-loss recipes ``mdcsrn-t1-k2-psnr`` and ``srgan-t1-x2-psnr``, whose step is the
one the issue's 1.5x target is about, and the GAN fine-tunes):

* ``trainer``: ``medsr train``'s loop (:class:`medsr.train.trainer.Trainer`) on the recipe, steps/s
  after a warm-up, in three configurations: ``fp32 NCHW`` (the loop before this benchmark's changes:
  channels-first, full precision), ``fp32 channels-last`` and the recipe's own (channels-last + bf16
  autocast). Validation and checkpoints are pushed past the measured steps.
* ``bare``: a plain loop over the same batches (pre-sampled), the same network, loss and Adam, in
  the same memory format and precision: what the trainer's bookkeeping costs.
* ``profile``: for the recipe's configuration, the mean time of one batch's sampling, the forward
  (with the loss), the backward and the optimiser step in the bare loop.

Every configuration of one recipe runs in this process, one after the other, on the same machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "mdcsrn-t1-k2-psnr": "configs/bundled/mdcsrn_t1_k2_psnr_stage1.yaml",
    "srgan-t1-x2-psnr": "configs/bundled/srgan_t1_x2_psnr.yaml",
}
CONFIGS = {
    "fp32 NCHW": ["train.channels_last=false", 'train.amp="off"'],
    "fp32 channels-last": ["train.channels_last=true", 'train.amp="off"'],
    "recipe (channels-last + bf16)": [],
}


def _trainer_rate(path: str, overrides: list[str], steps: int, warm: int) -> float:
    from medsr.config import load_config
    from medsr.train.trainer import Trainer

    extra = [f"train.steps={steps + warm}", "val.every=100000", "checkpoint.every=100000"]
    cfg = load_config(ROOT / path, overrides=overrides + extra)
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run", progress=False)
        trainer.callbacks.append(lambda _t, _s, _sc: stamps.append(time.perf_counter()))
        trainer.fit()
    return steps / (stamps[-1] - stamps[warm - 1])


def _bare(path: str, overrides: list[str], steps: int, warm: int) -> dict[str, float]:
    from medsr.config import load_config
    from medsr.nn.memory import channels_last_, channels_last_tensor
    from medsr.train import build, data

    cfg = load_config(ROOT / path, overrides=overrides)
    ds = data.build_dataset(cfg, data.resolve_sources(cfg)[0])
    net = build.build_networks(cfg, torch.device("cpu"))["generator"]
    cl = cfg.train.channels_last is not False
    if cl:
        channels_last_(net)
    amp = cfg.train.amp == "bf16"
    opt = torch.optim.Adam(net.parameters(), lr=cfg.optim["generator"].lr)
    bs = cfg.data.batch_size
    t_data = time.perf_counter()
    batches = []
    for i in range(steps + warm):
        items = [ds[(0, i * bs + j)] for j in range(bs)]
        batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
        if cl:
            batch = {k: channels_last_tensor(v) for k, v in batch.items()}
        batches.append(batch)
    t_data = (time.perf_counter() - t_data) / len(batches)
    times = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    t_start = 0.0
    for i, b in enumerate(batches):
        if i == warm:
            times = dict.fromkeys(times, 0.0)
            t_start = time.perf_counter()
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = (net(b["x_lq"]).float() - b["x_hq"]).abs().mean()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        times["forward"] += t1 - t0
        times["backward"] += t2 - t1
        times["optimizer"] += t3 - t2
    rate = steps / (time.perf_counter() - t_start)
    return {
        "steps_per_s": rate,
        "data_s_per_batch": t_data,
        **{f"{k}_s": v / steps for k, v in times.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from medsr.config import load_config
    from medsr.demo import cpu_name

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "cpu": cpu_name(), "threads": args.threads, "torch": torch.__version__,
        "steps": args.steps, "recipes": {},
    }  # fmt: skip
    for name in args.recipes.split(","):
        path = RECIPES[name]
        cfg = load_config(ROOT / path)
        row: dict[str, Any] = {"recipe": path, "batch": cfg.data.batch_size,
                               "patch": cfg.data.sampler.patch, "configs": {}}  # fmt: skip
        for label, overrides in CONFIGS.items():
            trainer = _trainer_rate(path, overrides, args.steps, args.warmup)
            bare = _bare(path, overrides, args.steps, args.warmup)
            row["configs"][label] = {
                "trainer_steps_per_s": trainer,
                "trainer_samples_per_s": trainer * cfg.data.batch_size,
                "bare": bare,
                "trainer_vs_bare": trainer / bare["steps_per_s"],
            }
            print(f"{name:20s} {label:30s} trainer {trainer:.3f} steps/s, bare "
                  f"{bare['steps_per_s']:.3f} steps/s", flush=True)  # fmt: skip
        base = row["configs"]["fp32 NCHW"]["trainer_steps_per_s"]
        row["speedup_vs_fp32_nchw"] = {
            k: v["trainer_steps_per_s"] / base for k, v in row["configs"].items()
        }
        result["recipes"][name] = row
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
