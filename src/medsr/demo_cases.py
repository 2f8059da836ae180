"""How each ``medsr demo`` case is computed: the reference, the degradation of its task (k-space
truncation x2, bicubic x2, simulated quarter-dose CT), the baselines and the models' outputs.

:mod:`medsr.demo` plans the cases, evaluates and writes them; ``benchmarks/quality.py`` runs the
same code on the held-out scans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medsr.baselines import run_baseline
from medsr.data import catalogue
from medsr.degrade.kspace_consistency import apply_data_consistency
from medsr.degrade.volumes import downsample_volume, lowdose_ct_volume, truncate_kspace_volume
from medsr.errors import MissingDependencyError
from medsr.geometry import crop_affine
from medsr.infer.engines import load_engine
from medsr.infer.predictor import Predictor
from medsr.nn.memory import native_bf16 as probe
from medsr.nn.sliding_window import balanced_windows
from medsr.volume import Volume

if TYPE_CHECKING:
    from medsr.demo import CasePlan

KSPACE_FACTOR = (1, 2, 2)
SR2D_FACTOR = (1, 2, 2)
UPSAMPLERS = ("nearest", "linear", "cubic")
CT_DENOISERS = ("bilateral", "nlm")
#: Low-dose simulation of ``dfgan-ct-qd``'s recipe (configs/bundled/dfgan_ct_qd.yaml).
CT_LOWDOSE = {"dose": 0.25, "i0": 1.0e5, "views": 360}

Progress = Callable[[str], None]


def crop_to_multiple(volume: Volume, factor: Sequence[int]) -> Volume:
    """Centre-crop each spatial axis to a multiple of its factor (geometry follows the crop)."""
    shape = volume.shape
    new = [n - n % f for n, f in zip(shape, factor, strict=True)]
    start = [(n - m) // 2 for n, m in zip(shape, new, strict=True)]
    sl = tuple(slice(s, s + m) for s, m in zip(start, new, strict=True))
    arr = volume.array[(slice(None), *sl)]
    return Volume(
        array=np.ascontiguousarray(arr),
        spacing=volume.spacing,
        affine=crop_affine(volume.affine, start),
        modality=volume.modality,
        unit=volume.unit,
        meta={**volume.meta, "crop_start": start},
    )


def native_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (see :func:`medsr.nn.memory.native_bf16`)."""

    return probe()


def make_predictor(
    model: str,
    task: str,
    shape: Sequence[int],
    precision: str,
    *,
    gan_weight: float | None = None,
) -> Any:
    """The demo's :class:`~medsr.infer.predictor.Predictor` for a bundled model and input shape.

    Args:
        model: Bundled model name.
        task: The case's task (``"sr3d"``, ``"sr2d"`` or ``"denoise2d"``).
        shape: Spatial shape of the model's input.
        precision: ``"fp32"`` or ``"bf16"`` (the MRI models; the CT model runs in fp32).
        gan_weight: Network interpolation with the PSNR partner (see
            :func:`medsr.infer.engines.load_engine`); None: the model as trained.
    """
    import torch

    net, spec = load_engine(model, gan_weight=gan_weight)
    if task == "sr3d":  # the fewest windows of <= 112^3 that tile the volume with 16 voxels shared
        win, ov = balanced_windows(shape, max_window=112, min_overlap=16)
        amp = torch.bfloat16 if precision == "bf16" else None
        return Predictor(net, spec=spec, window=win, overlap=ov, batch_size=1, amp_dtype=amp)
    # 2D: one window per slice (clipped to the slice) for the slice sizes of the demo; the MRI
    # slice models run in the demo's precision, the CT model in fp32 (its HU accuracy)
    amp = torch.bfloat16 if precision == "bf16" and task == "sr2d" else None
    return Predictor(
        net, spec=spec, window=512, overlap=0.125, batch_size=8 if task == "sr2d" else 1,
        amp_dtype=amp,
    )  # fmt: skip


def run_sr3d(
    case: CasePlan, ref: Volume, say: Progress, precision: str
) -> tuple[dict[str, Volume], dict]:

    f = KSPACE_FACTOR
    zero_filled = truncate_kspace_volume(ref, factor=f, keep_shape=True)
    low = truncate_kspace_volume(ref, factor=f, keep_shape=False)
    methods: dict[str, Volume] = {"zero-filled": zero_filled}
    for name in UPSAMPLERS:
        methods[name] = run_baseline(name, low, scale=f)
    consistency: dict[str, dict[str, float]] = {}
    for model in reversed(case.models):  # the PSNR partner's rows first, the case's model last
        say(f"{model} on {case.scan} {ref.shape}")
        raw = make_predictor(model, case.task, zero_filled.shape, precision)(zero_filled)
        fixed, dc = apply_data_consistency(raw.array, zero_filled.array, spatial_dims=3, factor=f)
        methods[f"{model} (no DC)"] = raw
        methods[model] = raw.with_array(fixed)
        consistency[model] = {"before": dc.error_before, "after": dc.error_after}
    extra = {
        "input": zero_filled,
        "model_input": zero_filled,
        "input_label": "k-space truncated x2 on H and W, zero-filled (the model's input)",
        "baselines": ["zero-filled", *UPSAMPLERS],
        "degradation": {"kind": "kspace_truncate", "factor": list(f), "keep_shape": True},
        "data_consistency": consistency[case.model],
        "data_consistency_models": consistency,
        "title": "3D T1 MRI, k-space truncation x2 (H, W), same grid",
        "precision": precision,
    }
    return methods, extra


def run_sr2d(
    case: CasePlan, ref: Volume, say: Progress, precision: str
) -> tuple[dict[str, Volume], dict]:

    f = SR2D_FACTOR
    low = downsample_volume(ref, factor=f, method="bicubic")
    methods = {name: run_baseline(name, low, scale=f) for name in UPSAMPLERS}
    for model in reversed(case.models):  # the PSNR partner's row first, the case's model last
        say(f"{model} on {case.scan}: {ref.shape[0]} axial slices")
        methods[model] = make_predictor(model, case.task, low.shape, precision)(low)
    extra = {
        "input": methods["nearest"],
        "model_input": low,
        "input_label": "bicubic x2 decimated slices (shown nearest-upsampled)",
        "baselines": list(UPSAMPLERS),
        "degradation": {"kind": "downsample_bicubic", "factor": list(f)},
        "data_consistency": None,
        "title": "2D T1 MRI slices, bicubic x2 super-resolution",
        "precision": precision,
    }
    return methods, extra


def true_noise_sigma(low: Volume, ref: Volume) -> float:
    """The simulated noise's standard deviation in HU inside the body (reference > -500 HU):
    the sigma a denoiser would be given if it knew the noise (the benchmark's BM3D row)."""
    body = ref.array > -500.0
    return float(np.std((low.array - ref.array)[body])) if body.any() else 0.0


def run_denoise2d(
    case: CasePlan, ref: Volume, say: Progress, seed: int, benchmark: bool = False
) -> tuple[dict[str, Volume], dict, list[str]]:

    say(f"quarter-dose CT simulation of {case.scan}")
    rng = np.random.default_rng(seed)
    low = lowdose_ct_volume(ref, rng=rng, **CT_LOWDOSE)  # type: ignore[arg-type]
    methods: dict[str, Volume] = {"low-dose": low}
    notes = []
    for name in CT_DENOISERS:
        try:
            methods[name] = run_baseline(name, low)
        except MissingDependencyError:
            notes.append(f"{name} baseline skipped: pip install 'medsr[classic]' (scikit-image)")
    if benchmark:  # BM3D told the true noise level: the strongest classical denoiser here
        sigma = true_noise_sigma(low, ref)
        say(f"BM3D at the true sigma {sigma:.1f} HU")
        methods["bm3d (true sigma)"] = run_baseline("bm3d", low, sigma=sigma)
    for model in reversed(case.models):
        say(f"{model} on {case.scan}")
        methods[model] = make_predictor(model, case.task, low.shape, "fp32")(low)
    extra = {
        "input": low,
        "model_input": low,
        "input_label": "simulated quarter-dose CT (projection-domain Poisson noise)",
        "baselines": [m for m in methods if m not in case.models],
        "degradation": {"kind": "lowdose_ct", **CT_LOWDOSE, "seed": seed},
        **({"true_sigma_hu": true_noise_sigma(low, ref)} if benchmark else {}),
        "data_consistency": None,
        "title": "Low-dose CT denoising, 25 % dose",
    }
    return methods, extra, notes


def load_reference(case: CasePlan) -> Volume:

    vol = catalogue.load(case.scan)
    if case.task == "denoise2d":
        return vol
    return crop_to_multiple(vol, KSPACE_FACTOR if case.task == "sr3d" else SR2D_FACTOR)
