"""Engine overhead: steps per second of medsr's trainer against a bare PyTorch loop.

Run ``python benchmarks/engine_overhead.py [--steps 40] [--repeats 3] [--threads 1]``; results go
into the "Training" section of ``docs/BENCHMARKS.md``.

Both loops train the same networks (same seed), from the same DataLoader, with the same loss
objects, optimisers and learning rates, in the same order (generator update, then one
discriminator update on the generator's batch, gradients of the other network switched off
during each update, as any careful GAN loop does). The engine adds what it is for: its own RNG
stream per step, learning-rate schedules, the step plan, scalar logging (JSONL every step),
the divergence guard and the output statistics it watches. Validation and checkpoints are moved
out of the timed window (``val.every`` / ``checkpoint.every`` beyond the run).

Per case the engine's rate is read from its JSONL step timestamps over the last ``--steps``
steps (after ``--warmup``), the bare loop is timed over the same steps; the two are interleaved
and repeated. The overhead is reported from the medians of the repeats (robust to a shared
machine's outliers) and from the best rates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from medsr.config import load_config
from medsr.config.schema import ExperimentConfig
from medsr.train import train_from_config
from medsr.train.build import build_adversarial, build_networks, build_optimizer
from medsr.train.data import build_dataset, build_loader, resolve_sources
from medsr.train.terms import GeneratorTerms

ROOT = Path(__file__).resolve().parents[1]

#: name -> (config, overrides): realistic layer widths, CPU-sized patches.
CASES: dict[str, tuple[str, list[str]]] = {
    "srresnet-x4 supervised (2D, 64px, batch 8)": (
        "configs/srgan_x4.yaml",
        [
            "train.recipe=supervised", "train.pretrain_steps=0", "losses.terms.feature.weight=0",
            "data.sampler.patch=[64, 64]", "data.batch_size=8", "data.workers=0",
            "networks.generator.kwargs.num_blocks=8", "data.train=[{scan: mni152_2009a}]",
            "data.val=[]",
        ],
    ),
    "dfgan gan (2D, 64px, batch 4)": (
        "configs/dfgan.yaml",
        [
            "data.sampler.patch=[64, 64]", "data.batch_size=4", "data.workers=0",
            "data.train=[{scan: pydicom_ct_small}]", "data.val=[]",
            "data.degradation.stages.0.kwargs.views=90",
            "networks.generator.kwargs.features=[16, 32, 64, 128, 256]",
        ],
    ),
}  # fmt: skip


def _config(path: str, overrides: list[str], steps: int) -> ExperimentConfig:
    far = steps + 10
    return load_config(
        ROOT / path,
        overrides=[
            *overrides, f"train.steps={steps}", f"val.every={far}",
            f"checkpoint.every={far}", "train.guard.enabled=true",
        ],
    )  # fmt: skip


def engine_rate(cfg: ExperimentConfig, *, measured: int) -> float:
    """Steps/s of the trainer over its last ``measured`` steps (from the JSONL timestamps)."""
    with tempfile.TemporaryDirectory() as tmp:
        train_from_config(cfg, Path(tmp) / "run", progress=False)
        rows = [json.loads(x) for x in (Path(tmp) / "run" / "log.jsonl").read_text().splitlines()]
    times = [r["time"] for r in rows if "event" not in r][-(measured + 1) :]
    return (len(times) - 1) / (times[-1] - times[0])


def bare_rate(cfg: ExperimentConfig, *, warmup: int, measured: int) -> float:
    """Steps/s of a minimal loop with the same networks, data, losses and optimisers."""
    device = torch.device("cpu")
    nets = build_networks(cfg, device)
    gen, disc = nets["generator"], nets.get("discriminator")
    opt_g = build_optimizer(cfg.optim["generator"], list(gen.parameters()))
    opt_d = build_optimizer(cfg.optim["discriminator"], list(disc.parameters())) if disc else None
    terms = GeneratorTerms(
        cfg.losses.terms, feature_net=None, feature_trainable=False, device=device
    )
    adv, weight, _, _ = build_adversarial(cfg)
    loader = build_loader(
        cfg, build_dataset(cfg, resolve_sources(cfg)[0]), rank=0, world_size=1, start_batch=0
    )
    it = iter(loader)
    gan = adv is not None and disc is not None and opt_d is not None
    cond = getattr(disc, "difference_input", False)
    t0 = 0.0
    for step in range(warmup + measured):
        if step == warmup:
            t0 = time.perf_counter()
        batch = next(it)
        x_lq, x_hq = batch["x_lq"], batch["x_hq"]
        extra = (x_lq,) if cond else ()
        if gan:
            disc.requires_grad_(False)  # type: ignore[union-attr]
        pred = gen(x_lq)
        loss, _ = terms(pred, x_hq, x_lq)
        if gan:
            loss = loss + weight * adv.g_loss(disc(pred, *extra), None)  # type: ignore[misc]
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        if gan:
            disc.requires_grad_(True)  # type: ignore[union-attr]
            gen.requires_grad_(False)
            d_loss = adv.d_loss(disc(x_hq, *extra), disc(pred.detach(), *extra))  # type: ignore[misc]
            opt_d.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            d_loss.backward()
            opt_d.step()  # type: ignore[union-attr]
            gen.requires_grad_(True)
    return measured / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"threads": args.threads, "steps": args.steps, "cases": {}}
    for name, (path, overrides) in CASES.items():
        cfg = _config(path, overrides, args.warmup + args.steps)
        eng, bare = [], []
        for _ in range(args.repeats):
            bare.append(bare_rate(cfg, warmup=args.warmup, measured=args.steps))
            eng.append(engine_rate(cfg, measured=args.steps))
        med_e, med_b = statistics.median(eng), statistics.median(bare)
        best_e, best_b = max(eng), max(bare)
        overhead = 100.0 * (med_b / med_e - 1.0)
        results["cases"][name] = {
            "engine_median_steps_per_s": med_e, "bare_median_steps_per_s": med_b,
            "overhead_percent_median": overhead, "engine_best_steps_per_s": best_e,
            "bare_best_steps_per_s": best_b,
            "overhead_percent_best": 100.0 * (best_b / best_e - 1.0),
            "engine_all": eng, "bare_all": bare,
        }  # fmt: skip
        print(f"{name}: engine {med_e:.3f} steps/s, bare {med_b:.3f} steps/s (medians), "
              f"overhead {overhead:+.1f} %", flush=True)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
