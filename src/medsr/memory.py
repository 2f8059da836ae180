"""Peak memory of every command per input voxel: the table behind the memory guard.

Each command declares what its work after the read will need (a
:class:`~medsr.io.memory.MemoryPlan` from this module) and reads inside
:func:`~medsr.io.memory.memory_plan`; the reader compares the plan's need for the shape its
header declares with the memory available and refuses before any voxel is read.

The numbers are measured, not derived: ``benchmarks/memory_factors.py`` runs each command in a
fresh process on int16 NIfTI inputs of three or four sizes, resets the peak-RSS counter when the
command reads its input (where the guard looks at the memory available), and fits
``peak = a * input_voxels + c`` (results: ``benchmarks/results/memory_factors.json``).
The tables hold the fitted ``a`` split into a part per input voxel and a part per output voxel
(fitted across the scales measured) and ``c`` in MiB; every plan multiplies them by
:data:`MARGIN`. Measured on the CPU (x86-64, torch 2.13, one thread) with the default options;
``c`` of a network is its activations for the default window and batch, and grows with a larger
``--window``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from medsr.degrade_names import canonical_name
from medsr.io.memory import MemoryPlan

#: Safety factor on every measured number (allocator slack, other shapes and dtypes).
MARGIN = 1.25
_MIB = 2.0**20


@dataclass(frozen=True)
class Cost:
    """Measured peak of one kind of work.

    Attributes:
        per_in: Bytes per input voxel (the input volume and what scales with it).
        per_out: Bytes per output voxel (accumulators, the output volume).
        fixed_mib: MiB that do not grow with the image (model, one batch of windows).
    """

    per_in: float
    per_out: float = 0.0
    fixed_mib: float = 0.0

    def plan(self, what: str, *, out_per_in: float = 1.0, fixed_scale: float = 1.0) -> MemoryPlan:
        """The plan for ``out_per_in`` output voxels per input voxel, with :data:`MARGIN`."""
        per_voxel = self.per_in + self.per_out * out_per_in
        fixed = self.fixed_mib * _MIB * fixed_scale
        return MemoryPlan(what, bytes_per_voxel=MARGIN * per_voxel, fixed_bytes=MARGIN * fixed)


# ---------------------------------------------------------------------------------- enhance
#: ``medsr enhance`` per input and per output voxel with the blended windows and the float64
#: accumulator, 2D models: ``srgan-t1-x2`` (x2 in H and W: 4 output voxels per input voxel)
#: 39.9 B per input voxel, ``dfgan-ct-qd`` (same grid) 14.8 B, so 6.4 B per input voxel and
#: 8.4 B per output voxel.
ENHANCE_2D = Cost(per_in=6.4, per_out=8.4)
#: 3D models, same grid: 17.7 B per input voxel (a tiny mDCSRN on volumes up to 256 x 160^2;
#: the bundled ``mdcsrn-t1-k2``, up to 256 x 96^2, measured 12.4-23.7 B in two runs, noisy beside
#: its 824 MiB fixed part); the largest is kept.
ENHANCE_3D = Cost(per_in=6.4, per_out=17.3)
#: Saved per output voxel by ``--accumulate float32`` (2D: 39.9 -> 27.0 B at 4 output voxels
#: per input voxel; 3D: 17.7 -> 11.7 B); the smaller is kept.
ACCUMULATE_F32_SAVING = 3.2
#: Added per output voxel by ``--data-consistency`` (complex128 spectra of input and output;
#: 3D: 17.7 -> 57.5 B).
DATA_CONSISTENCY = 40.0
#: Added per input voxel by ``--adapt`` (the training pairs made from the scan; 2D: 39.9 ->
#: 48.6 B), and to the fixed part (the optimiser, gradients and activations of the training
#: batches: 2D +90 MiB, 3D ``mdcsrn-t1-k2`` +411 MiB).
ADAPT = 8.7
ADAPT_MIB: dict[int, float] = {2: 90.0, 3: 420.0}
#: Network activations and workspaces for a 128^2 (2D) or 64^3 (3D) window and the default batch
#: (MiB), per generator at the bundled widths, plus what the command imports after the read;
#: others get the largest. ``dfgan_unet``: 135 MiB measured at the public code's widths (32-512,
#: ``dfgan-ct-qd`` since session 17; 88 MiB at 16-256).
NETWORK_MIB: dict[str, float] = {"mdcsrn": 830.0, "srresnet": 80.0, "dfgan_unet": 150.0}
#: Window edge the network parts were measured at, per network dimensionality.
MEASURED_WINDOW = {2: 128, 3: 64}
#: Largest default window edge of the sliding window (``Predictor``: 3D 64; 2D balanced windows
#: of up to 256^2 pixels), which the network part is scaled to.
DEFAULT_WINDOW = {2: 256, 3: 64}


def enhance_plan(
    *,
    name: str,
    spatial_dims: int,
    scale: Sequence[int],
    accumulate: str = "float64",
    data_consistency: bool = False,
    adapt: bool = False,
    window: int | Sequence[int] | None = None,
) -> MemoryPlan:
    """What ``medsr enhance`` needs on top of the read, per input voxel and fixed.

    Args:
        name: Generator registry key (for the network's fixed part).
        spatial_dims: 2 or 3.
        scale: ``(sd, sh, sw)`` of the model.
        accumulate: ``float64`` or ``float32`` blending accumulator.
        data_consistency: k-space data consistency after the network.
        adapt: Per-scan adaptation before the network runs.
        window: The sliding window (None: the default).
    """
    r = float(math.prod(int(s) for s in scale))
    base = ENHANCE_3D if spatial_dims == 3 else ENHANCE_2D
    per_out = base.per_out
    if accumulate == "float32":
        per_out -= ACCUMULATE_F32_SAVING
    if data_consistency:
        per_out += DATA_CONSISTENCY
    per_in = base.per_in + (ADAPT if adapt else 0.0)
    fixed = NETWORK_MIB.get(name, max(NETWORK_MIB.values()))
    extra = ADAPT_MIB[3 if spatial_dims == 3 else 2] if adapt else 0.0
    nd = 3 if spatial_dims == 3 else 2
    if window is None:
        edges = [DEFAULT_WINDOW[nd]] * nd
    else:
        edges = [int(window)] if isinstance(window, int) else [int(w) for w in window]
        edges = edges * nd if len(edges) == 1 else edges
    fixed *= max(1.0, math.prod(edges) / MEASURED_WINDOW[nd] ** nd)
    cost = Cost(per_in=per_in, per_out=per_out, fixed_mib=fixed + extra)
    return cost.plan(f"medsr enhance with {name} (x{r:g} voxels)", out_per_in=r)


# ---------------------------------------------------------------------------------- degrade
#: ``medsr degrade`` per input voxel, by canonical degradation name (the output is never larger
#: than the input); the fixed part (about 19 MiB) is what the command imports after the read.
#: ``kspace_truncate``: 51.9 with ``--keep-shape``, 44.5 on the new grid (``zero_edges`` alike);
#: ``downsample`` area and bicubic alike. ``lowdose_ct`` runs its slices in batches of about 12M
#: rays: its fixed part is one batch (373 MiB measured on 128^2 slices at 360 views).
DEGRADE: dict[str, Cost] = {
    "kspace_truncate": Cost(per_in=52.0, fixed_mib=20.0),
    "kspace_truncate_zero_edges": Cost(per_in=52.0, fixed_mib=20.0),
    "kspace_gaussian": Cost(per_in=52.0, fixed_mib=20.0),
    "downsample_area": Cost(per_in=17.1, fixed_mib=20.0),
    "downsample_bicubic": Cost(per_in=17.1, fixed_mib=20.0),
    "decimate": Cost(per_in=6.0, fixed_mib=20.0),
    "slice_thickness": Cost(per_in=17.1, fixed_mib=20.0),
    "gaussian_noise": Cost(per_in=20.4, fixed_mib=20.0),
    "rician_noise": Cost(per_in=52.6, fixed_mib=20.0),
    "poisson_gaussian_noise": Cost(per_in=36.5, fixed_mib=20.0),
    "lowdose_ct": Cost(per_in=66.8, fixed_mib=400.0),
}


def degrade_plan(kinds: Sequence[str]) -> MemoryPlan:
    """What ``medsr degrade`` needs for its stages (run one after the other: the largest).

    ``kinds`` are canonical names or aliases (:mod:`medsr.degrade_names`); an unknown kind
    counts as the largest measured one.
    """
    worst = max(DEGRADE.values(), key=lambda c: c.per_in)
    costs = [DEGRADE.get(canonical_name(k) or k, worst) for k in kinds] or [worst]
    cost = Cost(per_in=max(c.per_in for c in costs), fixed_mib=max(c.fixed_mib for c in costs))
    return cost.plan(f"medsr degrade --kind {'+'.join(kinds)}")


# ---------------------------------------------------------------------------------- baseline
#: ``medsr baseline`` per input and output voxel, fitted over ``--scale 1 2 2`` and ``2``
#: (nearest 36.6 and 68.6 B per input voxel, cubic 83.9 and 179.8, zero-filled 197.1 and
#: 384.6; linear as cubic). Denoisers keep the grid; ``bm3d`` was not measured and takes the
#: largest. The fixed parts are the late imports (bilateral: scikit-image).
BASELINE: dict[str, Cost] = {
    "nearest": Cost(per_in=4.6, per_out=8.0, fixed_mib=20.0),
    "linear": Cost(per_in=4.0, per_out=22.5, fixed_mib=20.0),
    "cubic": Cost(per_in=4.0, per_out=22.5, fixed_mib=20.0),
    "zero-filled": Cost(per_in=10.3, per_out=46.9, fixed_mib=30.0),
    "identity": Cost(per_in=20.6, fixed_mib=20.0),
    "bilateral": Cost(per_in=28.2, fixed_mib=66.0),
    "nlm": Cost(per_in=32.5, fixed_mib=20.0),
}


def baseline_plan(name: str, scale: int | Sequence[int] | None) -> MemoryPlan:
    """What ``medsr baseline NAME --scale S`` needs; an int scale counts on all three axes."""
    if scale is None:
        r = 1.0
    elif isinstance(scale, int):
        r = float(scale) ** 3
    else:
        r = float(math.prod(int(s) for s in scale))
    cost = BASELINE.get(name) or Cost(
        per_in=max(c.per_in for c in BASELINE.values()),
        per_out=max(c.per_out for c in BASELINE.values()),
        fixed_mib=max(c.fixed_mib for c in BASELINE.values()),
    )
    return cost.plan(f"medsr baseline {name} (x{r:g} voxels)", out_per_in=r)


# ---------------------------------------------------------------------------------- evaluate
#: ``medsr evaluate`` per voxel of one prediction and its reference (both held, the metrics'
#: float64 maps): unit-range 82.3, brain-mask 88.3; other protocols take the larger.
EVALUATE = Cost(per_in=88.3, fixed_mib=15.0)


def evaluate_plan(protocol: str) -> MemoryPlan:
    """What ``medsr evaluate --protocol NAME`` needs per voxel of each file it reads."""
    return EVALUATE.plan(f"medsr evaluate --protocol {protocol}")


# ---------------------------------------------------------------------------------- augment
#: ``medsr augment`` per voxel of the scan it reads, on top of what degrading and enhancing
#: need: the cropped high-resolution copy, its mask and tissue labels and the volumes written.
#: Measured with ``disgan-t1-x2`` (x2 per axis, k-space truncation) on scans of 1.8-3.5 M voxels,
#: twice: 72.5 B per scan voxel + 347 MiB and 56.7 B + 395 MiB (residuals about 50 MiB; the
#: second run is in ``memory_factors.json``). The larger is kept: of it the k-space degradation is
#: 52 B (the larger of it and the enhancement of the degraded copy, 18 B per scan voxel), which
#: leaves 20.5 B for the rest.
AUGMENT_LABELS = Cost(per_in=20.5)


def augment_plan(
    *,
    name: str,
    spatial_dims: int,
    scale: Sequence[int],
    kinds: Sequence[str],
    simulate: bool = True,
    window: int | Sequence[int] | None = None,
) -> MemoryPlan:
    """What ``medsr augment`` needs per voxel of each scan it reads.

    Simulated (the default): the scan is the high-resolution truth: its labels and copies, the
    larger of its degradation and the enhancement of the degraded copy (``1 / r`` input voxels
    and one output voxel per scan voxel, ``r`` the model's voxel factor). ``--no-simulate``: the
    scan is the model's input, as ``medsr enhance``.
    """
    enhance = enhance_plan(name=name, spatial_dims=spatial_dims, scale=scale, window=window)
    if not simulate:
        return MemoryPlan(
            f"medsr augment --no-simulate with {name}",
            bytes_per_voxel=enhance.bytes_per_voxel,
            fixed_bytes=enhance.fixed_bytes,
        )
    r = float(math.prod(int(s) for s in scale))
    degrade = degrade_plan(kinds) if kinds else None
    per_voxel = enhance.bytes_per_voxel / r  # per scan voxel: the input is the degraded copy
    if degrade is not None:
        per_voxel = max(per_voxel, degrade.bytes_per_voxel)
    labels = AUGMENT_LABELS.plan("labels")
    return MemoryPlan(
        f"medsr augment with {name} (the scan, its labels, degraded and super-resolved copies)",
        bytes_per_voxel=per_voxel + labels.bytes_per_voxel,
        fixed_bytes=max(enhance.fixed_bytes, degrade.fixed_bytes if degrade else 0.0),
    )
