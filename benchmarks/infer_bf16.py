"""bf16 vs fp32 inference accuracy, in the data's units, on quickly fitted models (CPU).

Run ``python benchmarks/infer_bf16.py [--steps N] [--out results.json]``; results are recorded in
``docs/inference.md`` and ``docs/BENCHMARKS.md``.

* MRI: a small mDCSRN (growth 8, 2 blocks x 4 units) fitted for ``--steps`` Adam steps (L1) to
  undo a (1, 2, 2) k-space truncation of the MNI152 2009a template (percentile normalisation);
  evaluated on a 64^3 crop of the held-out pycortex S1 head. Errors in % of the HR 99.5th
  percentile.
* CT: the same architecture fitted to remove Gaussian noise (sigma 30 HU) from slices 0..53 of the
  InVesalius head CT (HU window -1024..3072); evaluated on a 48x128x128 crop of slices 54..107.
  Errors in HU (all voxels and inside the head, HU > -500).

Both run the :class:`medsr.infer.Predictor` twice (blended, window 32, overlap 0.25), once in fp32
and once under bfloat16 autocast, and compare.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from medsr.data import catalogue
from medsr.data.intensity import IntensityNorm
from medsr.data.volume import Volume
from medsr.degrade.kspace import truncate_kspace
from medsr.infer import Predictor
from medsr.infer.spec import ModelSpec
from medsr.models.generators import GENERATORS

KW = {"growth": 8, "num_blocks": 2, "num_units": 4}


def _fit(x_lq: np.ndarray, x_hq: np.ndarray, steps: int, seed: int) -> torch.nn.Module:
    """A few Adam steps of L1 on random 24^3 patches (network units)."""
    torch.manual_seed(seed)
    model = GENERATORS.build("mdcsrn", **KW)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    p = 24
    for _ in range(steps):
        idx = [[int(rng.integers(0, n - p + 1)) for n in x_lq.shape] for _ in range(4)]
        sl = [tuple(slice(i, i + p) for i in s) for s in idx]
        xb = torch.from_numpy(np.stack([x_lq[s] for s in sl])[:, None])
        yb = torch.from_numpy(np.stack([x_hq[s] for s in sl])[:, None])
        loss = torch.nn.functional.l1_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _centre(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    c = [(n - s) // 2 for n, s in zip(a.shape, shape)]
    return np.ascontiguousarray(a[tuple(slice(i, i + s) for i, s in zip(c, shape))])


def _run(
    model: torch.nn.Module, vol: Volume, spec: ModelSpec
) -> tuple[np.ndarray, np.ndarray, float, float]:
    kw: dict[str, Any] = {"spec": spec, "window": 32, "overlap": 0.25}
    t = time.perf_counter()
    fp32 = Predictor(model, **kw)(vol).array[0]
    t32 = time.perf_counter() - t
    t = time.perf_counter()
    bf16 = Predictor(model, amp_dtype=torch.bfloat16, **kw)(vol).array[0]
    return fp32, bf16, t32, time.perf_counter() - t


def _psnr(a: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    mse = float(np.mean((a.astype(np.float64) - ref) ** 2))
    return 10 * np.log10(data_range**2 / mse)


def mri(steps: int) -> dict[str, Any]:
    train = catalogue.load("mni152_2009a").array[0]
    norm = IntensityNorm(kind="percentile")
    lq = truncate_kspace(train, spatial_dims=3, factor=(1, 2, 2))
    lq_u, state = norm.forward(lq)
    model = _fit(lq_u, train / state["scale"], steps, 0)
    hr = _centre(catalogue.load("pycortex_s1").array[0], (64, 64, 64))
    test_lq = truncate_kspace(hr, spatial_dims=3, factor=(1, 2, 2))
    spec = ModelSpec(name="mdcsrn", spatial_dims=3, scale=(1, 1, 1), modality="MR", intensity=norm)
    fp32, bf16, t32, t16 = _run(model, Volume.from_array(test_lq), spec)
    ref = float(np.percentile(hr, 99.5))
    d = np.abs(bf16 - fp32)
    return {
        "units": "% of the HR 99.5th percentile",
        "max_abs": 100 * float(d.max()) / ref,
        "rms": 100 * float(np.sqrt(np.mean(d.astype(np.float64) ** 2))) / ref,
        "psnr_zero_filled": _psnr(test_lq, hr, ref),
        "psnr_fp32": _psnr(fp32, hr, ref),
        "psnr_bf16": _psnr(bf16, hr, ref),
        "seconds_fp32": t32,
        "seconds_bf16": t16,
    }


def ct(steps: int) -> dict[str, Any]:
    hu = catalogue.load("invesalius_head").array[0]
    half = hu.shape[0] // 2
    norm = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    rng = np.random.default_rng(1)
    noisy = (hu + rng.normal(0.0, 30.0, hu.shape)).astype(np.float32)
    model = _fit(norm.forward(noisy[:half])[0], norm.forward(hu[:half])[0], steps, 1)
    clean = _centre(hu[half:], (48, 128, 128))
    test = _centre(noisy[half:], (48, 128, 128))
    spec = ModelSpec(name="mdcsrn", spatial_dims=3, scale=(1, 1, 1), modality="CT", intensity=norm)
    fp32, bf16, t32, t16 = _run(model, Volume.from_array(test, modality="CT", unit="HU"), spec)
    d = np.abs(bf16 - fp32).astype(np.float64)
    body = clean > -500

    def rmse(a: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a.astype(np.float64) - clean)[body] ** 2)))

    return {
        "units": "HU",
        "max_abs": float(d.max()),
        "rms": float(np.sqrt(np.mean(d**2))),
        "mean_abs_in_head": float(d[body].mean()),
        "rms_in_head": float(np.sqrt(np.mean(d[body] ** 2))),
        "rmse_vs_clean_noisy_input": rmse(test),
        "rmse_vs_clean_fp32": rmse(fp32),
        "rmse_vs_clean_bf16": rmse(bf16),
        "seconds_fp32": t32,
        "seconds_bf16": t16,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="Adam steps per fitted model")
    parser.add_argument("--out", default=None, help="write the results as JSON")
    args = parser.parse_args()
    report = {"steps": args.steps, "mri": mri(args.steps), "ct": ct(args.steps)}
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
