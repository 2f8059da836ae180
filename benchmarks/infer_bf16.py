"""bf16 vs fp32 inference accuracy, in the data's units, on quickly fitted models (CPU).

Run ``python benchmarks/infer_bf16.py [--out results.json]``; results are recorded in
``docs/inference.md`` and ``docs/BENCHMARKS.md``.

The model is the paper's mDCSRN with random (seeded) weights whose final 1x1x1 reconstruction is
fitted by least squares (seconds, see ``_fit``): its outputs have the data's magnitude, which is
what bf16 rounding errors scale with. (A few hundred Adam steps from scratch did not beat the
identity here, so they would not give a more realistic model.)

* MRI: readout fitted to undo a (1, 2, 2) k-space truncation of the MNI152 2009a template
  (percentile normalisation); evaluated on a 64^3 crop of the held-out pycortex S1 head. Errors
  in % of the HR 99.5th percentile.
* CT: readout fitted to remove Gaussian noise (sigma 30 HU) from slices 0..53 of the InVesalius
  head CT (HU window -1024..3072); evaluated on a 48x128x128 crop of slices 54..107. Errors in HU
  (all voxels and inside the head, HU > -500).

Both run the :class:`medsr.infer.Predictor` twice (blended, window 32, overlap 0.25), once in fp32
and once under bfloat16 autocast, and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch

from medsr.artifact.spec import ModelSpec
from medsr.data import catalogue
from medsr.data.intensity import IntensityNorm
from medsr.degrade.kspace import truncate_kspace
from medsr.infer import Predictor
from medsr.models.generators import GENERATORS
from medsr.volume import Volume

KW: dict[str, Any] = {}  # the paper's mDCSRN: growth 16, 4 blocks x 4 units


def _fit(x_lq: np.ndarray, x_hq: np.ndarray, seed: int, n: int = 8, p: int = 24) -> torch.nn.Module:
    """mDCSRN with random (seeded) features and a least-squares readout.

    The final 1x1x1 reconstruction is solved by ridge regression on the features of ``n``
    random ``p^3`` patches (network units); everything before it keeps its random weights and
    the batch norms their initial statistics. The result maps the input to the target about as
    well as the identity does, with realistic output magnitudes, in seconds.
    """
    torch.manual_seed(seed)
    model = GENERATORS.build("mdcsrn", **KW).eval()
    feats: list[torch.Tensor] = []
    hook = model.reconstruction.register_forward_hook(lambda m, i, o: feats.append(i[0]))
    rng = np.random.default_rng(seed)
    idx = [[int(rng.integers(0, s - p + 1)) for s in x_lq.shape] for _ in range(n)]
    sl = [tuple(slice(i, i + p) for i in s) for s in idx]
    xb = torch.from_numpy(np.stack([x_lq[s] for s in sl])[:, None])
    yb = torch.from_numpy(np.stack([x_hq[s] for s in sl])[:, None])
    with torch.no_grad():
        model(xb)
    hook.remove()
    f = feats[0].permute(0, 2, 3, 4, 1).reshape(-1, feats[0].shape[1]).double()
    gram = f.T @ f + 1e-6 * f.shape[0] * torch.eye(f.shape[1], dtype=torch.float64)
    w = torch.linalg.solve(gram, f.T @ yb.reshape(-1).double())
    with torch.no_grad():
        model.reconstruction.weight.copy_(w.float().view_as(model.reconstruction.weight))
    return model


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


def mri() -> dict[str, Any]:
    train = catalogue.load("mni152_2009a").array[0]
    norm = IntensityNorm(kind="percentile")
    lq = truncate_kspace(train, spatial_dims=3, factor=(1, 2, 2))
    lq_u, state = norm.forward(lq)
    model = _fit(lq_u, train / state["scale"], 0)
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


def ct() -> dict[str, Any]:
    hu = catalogue.load("invesalius_head").array[0]
    half = hu.shape[0] // 2
    norm = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    rng = np.random.default_rng(1)
    noisy = (hu + rng.normal(0.0, 30.0, hu.shape)).astype(np.float32)
    model = _fit(norm.forward(noisy[:half])[0], norm.forward(hu[:half])[0], 1)
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
    parser.add_argument("--out", default=None, help="write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    report = {"model": "mdcsrn (paper width), random features + least-squares readout"}
    report.update(mri=mri(), ct=ct())
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
