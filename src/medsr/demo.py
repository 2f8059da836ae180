"""The main job: k-space-truncation super-resolution baselines on a package-shipped T1 scan.

This is what ``make demo`` / ``medsr demo`` runs. It takes the embedded default scan (the MNI152
2009a T1 template shipped with nilearn), simulates a low-resolution acquisition by keeping the
central half of k-space along H and W (the mDCSRN "2x2" truncation: 25 % of k-space kept),
reconstructs the full grid with every upsampling baseline, evaluates each against the original
under named protocols, and writes NIfTI volumes, JSON and CSV next to a printed table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsr.data.geometry import crop_affine
from medsr.data.volume import Volume

DEFAULT_SCAN = "mni152_2009a"
DEFAULT_FACTOR = (1, 2, 2)
DEFAULT_PROTOCOLS = ("unit-range", "brain-mask")
UPSAMPLERS = ("nearest", "linear", "cubic")


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs and the table it printed."""

    out_dir: Path
    table: str
    files: list[Path]


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


def run_demo(
    out_dir: str | Path,
    *,
    scan: str = DEFAULT_SCAN,
    factor: Sequence[int] = DEFAULT_FACTOR,
    protocols: Sequence[str] = DEFAULT_PROTOCOLS,
    overwrite: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the k-space baseline demo and write its outputs.

    Args:
        out_dir: Output folder (created).
        scan: Catalogue name of the high-quality reference scan.
        factor: k-space truncation factor per axis ``(D, H, W)``.
        protocols: Evaluation protocols (registry names).
        overwrite: Replace outputs from an earlier run.
        progress: Called with a short message at each stage.

    Returns:
        The output folder, the printed table and the files written.

    Raises:
        MissingDependencyError: If the scan's package is not installed.
    """
    from medsr.baselines import run_baseline
    from medsr.data import catalogue
    from medsr.degrade.kspace import truncate_kspace
    from medsr.io import write_volume
    from medsr.io.atomic import write_text_atomic
    from medsr.metrics import evaluate_volumes, format_table
    from medsr.metrics.aggregate import cases_to_csv, write_json

    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    f = tuple(int(v) for v in factor)

    say(f"loading {scan}")
    ref = crop_to_multiple(catalogue.load(scan), f)
    say(f"k-space truncation x{f} on {ref.shape}")
    zero_filled = ref.with_array(
        truncate_kspace(ref.array, spatial_dims=3, factor=f, keep_shape=True)
    )
    low = ref.regrid(truncate_kspace(ref.array, spatial_dims=3, factor=f, keep_shape=False))

    methods: dict[str, Volume] = {"zero-filled": zero_filled}
    for name in UPSAMPLERS:
        say(f"baseline {name}")
        methods[name] = run_baseline(name, low, scale=f)

    rows = []
    for protocol in protocols:
        say(f"evaluating ({protocol})")
        for method, pred in methods.items():
            rows += evaluate_volumes([pred], [ref], protocol=protocol, method=method, cases=[scan])

    say("writing outputs")
    files = [
        write_volume(ref, out / "reference.nii.gz", overwrite=overwrite),
        write_volume(low, out / "input_lowres.nii.gz", overwrite=overwrite),
    ]
    for method, pred in methods.items():
        files.append(write_volume(pred, out / f"{method}.nii.gz", overwrite=overwrite))
    files.append(write_json(out / "metrics.json", rows, overwrite=overwrite))
    files.append(write_text_atomic(out / "metrics.csv", cases_to_csv(rows), overwrite=overwrite))
    run_info = {
        "scan": scan,
        "reference_shape": list(ref.shape),
        "reference_spacing_mm": list(ref.spacing),
        "lowres_shape": list(low.shape),
        "lowres_spacing_mm": list(low.spacing),
        "degradation": {"kind": "kspace", "factor": list(f), "keep": "central 1/f per axis"},
        "protocols": list(protocols),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    files.append(
        write_text_atomic(
            out / "run.json", json.dumps(run_info, indent=2) + "\n", overwrite=overwrite
        )
    )
    return DemoResult(out_dir=out, table=format_table(rows, per_case=False), files=files)
