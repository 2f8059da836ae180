"""Peak memory per input voxel of every CLI command, the numbers behind the memory guard.

Run ``python benchmarks/memory_factors.py [--only enhance degrade] [--out results.json]``; the
fitted factors are the ones written into :mod:`medsr.memory` (with a margin). CPU only.

Each scenario runs one ``medsr`` command in a fresh process on int16 NIfTI inputs of a few sizes
that differ in D only (the in-plane size stays at or above the sliding window, and every size
has at least one full batch of windows, so the network's activations and workspaces are the same
at every size; with fewer windows than ``--batch-size`` they are smaller). The command runs
in-process; when it reads its input (inside :func:`medsr.io.memory.memory_plan`, where the guard
compares its estimate with the memory available) the RSS is noted and the peak-RSS counter reset
(``/proc/self/clear_refs``); at the end the peak above that RSS is read (``VmHWM - rest``): what
the command needs from the moment the guard looks, modules imported after the read included.
A straight line through the points, ``peak = a * input_voxels + c``, gives the per-voxel factor
``a`` and the fixed part ``c`` (network activations of one window batch, late imports);
``max_residual`` says how straight it is.

The bundled mDCSRN's fixed part (about 800 MiB) dwarfs its per-voxel part at sizes it can run
here in minutes, so the per-voxel part of 3D inference is measured with a tiny mDCSRN
(``enhance-3d*``) on larger volumes: the accumulators, normalisation and writing do not depend
on the network's width, only its activations (the fixed part) do.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# name -> (command template, input kind, shapes (D, H, W)); {i}, {r} and {o} are the input, a
# second input (evaluate's reference) and the output.
_D3 = [(64, 96, 96), (128, 96, 96), (192, 96, 96), (256, 96, 96)]  # >= 4 windows of 64^3
_D2 = [(16, 128, 128), (32, 128, 128), (64, 128, 128), (96, 128, 128)]
_DV = [(32, 96, 96), (64, 96, 96), (128, 96, 96), (192, 96, 96)]
_CT = [(8, 96, 96), (16, 96, 96), (24, 96, 96), (32, 96, 96)]
_T3 = [(64, 160, 160), (128, 160, 160), (192, 160, 160), (256, 160, 160)]  # tiny 3D network
# augment: sizes past one 48^3 window of the x2 model (smaller inputs have smaller windows)
_AS = [(192, 96, 96), (256, 96, 96), (320, 96, 96), (384, 96, 96)]
_AR = [(64, 64, 64), (96, 64, 64), (128, 64, 64), (160, 64, 64)]  # x8 output voxels
# low-dose CT runs slices in batches of about 12M rays (182 slices of 128^2 at 360 views)
_LD = [(200, 128, 128), (400, 128, 128), (600, 128, 128)]
SCENARIOS: dict[str, tuple[str, str, list[tuple[int, int, int]]]] = {
    "enhance-sr3d": ("enhance {i} --model mdcsrn-t1-k2 -o {o}", "mr", _D3),
    "enhance-3d": ("enhance {i} --model {t} -o {o}", "mr", _T3),
    "enhance-3d-f32": ("enhance {i} --model {t} --accumulate float32 -o {o}", "mr", _T3),
    "enhance-3d-dc": (
        "enhance {i} --model {t} --data-consistency --kspace-factor 1 2 2 -o {o}", "mr", _T3,
    ),
    "enhance-sr3d-adapt": ("enhance {i} --model mdcsrn-t1-k2 --adapt 2 -o {o}", "mr", _D3),
    "enhance-sr2d": ("enhance {i} --model srgan-t1-x2 -o {o}", "mr", _D2),
    "enhance-sr2d-f32": ("enhance {i} --model srgan-t1-x2 --accumulate float32 -o {o}", "mr", _D2),
    "enhance-sr2d-adapt": ("enhance {i} --model srgan-t1-x2 --adapt 2 -o {o}", "mr", _D2),
    "enhance-denoise2d": ("enhance {i} --model dfgan-ct-qd --modality CT -o {o}", "ct", _D2),
    "degrade-kspace": ("degrade {i} --kind kspace_truncate --factor 1 2 2 -o {o}", "mr", _DV),
    "degrade-kspace-same": (
        "degrade {i} --kind kspace_truncate --factor 1 2 2 --keep-shape -o {o}", "mr", _DV,
    ),
    "degrade-kspace-gaussian": ("degrade {i} --kind kspace_gaussian --sigma 0.2 -o {o}", "mr", _DV),
    "degrade-downsample": ("degrade {i} --kind downsample_area --factor 1 2 2 -o {o}", "mr", _DV),
    "degrade-downsample-bicubic": (
        "degrade {i} --kind downsample_bicubic --factor 1 2 2 -o {o}", "mr", _DV,
    ),
    "degrade-decimate": ("degrade {i} --kind decimate --factor 1 2 2 -o {o}", "mr", _DV),
    "degrade-thickness": ("degrade {i} --kind slice_thickness --thickness 2 --spacing 2 -o {o}", "mr", _DV),
    "degrade-gaussian": ("degrade {i} --kind gaussian_noise --sigma 5 -o {o}", "mr", _DV),
    "degrade-rician": ("degrade {i} --kind rician_noise --sigma 5 -o {o}", "mr", _DV),
    "degrade-poisson-gaussian": (
        "degrade {i} --kind poisson_gaussian_noise --gain 0.5 --sigma 1 -o {o}", "mr", _DV,
    ),
    "degrade-lowdose-ct": ("degrade {i} --kind lowdose_ct -o {o}", "ct", _LD),
    "baseline-nearest": ("baseline nearest {i} --scale 1 2 2 -o {o}", "mr", _DV),
    "baseline-linear": ("baseline linear {i} --scale 1 2 2 -o {o}", "mr", _DV),
    "baseline-cubic": ("baseline cubic {i} --scale 1 2 2 -o {o}", "mr", _DV),
    "baseline-zero-filled": ("baseline zero-filled {i} --scale 1 2 2 -o {o}", "mr", _DV),
    "baseline-identity": ("baseline identity {i} -o {o}", "ct", _DV),
    "baseline-bilateral": ("baseline bilateral {i} -o {o}", "ct", _DV),
    "baseline-nlm": ("baseline nlm {i} -o {o}", "ct", _CT),
    "evaluate-unit-range": ("evaluate {i} --ref {r} --protocol unit-range", "mr", _DV),
    "evaluate-brain-mask": ("evaluate {i} --ref {r} --protocol brain-mask", "mr", _DV),
    "baseline-nearest-x8": ("baseline nearest {i} --scale 2 -o {o}", "mr", _DV[:3]),
    "baseline-cubic-x8": ("baseline cubic {i} --scale 2 -o {o}", "mr", _DV[:3]),
    "baseline-zero-filled-x8": ("baseline zero-filled {i} --scale 2 -o {o}", "mr", _DV[:3]),
    # augment: the scan is the high-resolution truth (cropped, labelled, degraded, super-resolved
    # x2 per axis back onto its grid) or, with --no-simulate, the low-resolution input (8x out)
    "augment-sr3d": ("augment {i} --model disgan-t1-x2 --quiet -o {o}", "mr", _AS),
    "augment-sr3d-real": (
        "augment {i} --model disgan-t1-x2 --no-simulate --quiet -o {o}", "mr", _AR,
    ),
    "read": ("", "mr", _DV),
    "read-float32": ("", "mr-float32", _DV),
    "read-float64": ("", "mr-float64", _DV),
    "read-scaled": ("", "mr-scaled", _DV),
}  # fmt: skip


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _mark() -> int:
    """The RSS now, with the peak-RSS counter reset to it."""
    rest = _status()["VmRSS"]
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    return rest


def child(name: str, folder: Path) -> dict[str, Any]:
    """Run scenario ``name`` on ``folder/in.nii.gz`` in this process; bytes above the RSS at
    the read."""
    import contextlib
    import io
    from contextlib import redirect_stdout

    import torch

    import medsr.io.memory

    torch.set_num_threads(1)
    template = SCENARIOS[name][0]
    argv = template.format(
        i=folder / "in.nii.gz", r=folder / "ref.nii.gz", o=folder / "out.nii.gz",
        t=folder / "tiny3d.pt",
    )  # fmt: skip
    rests: list[int] = []
    real = medsr.io.memory.memory_plan

    @contextlib.contextmanager
    def noted(plan: Any) -> Any:
        if not rests:
            rests.append(_mark())
        with real(plan) as p:
            yield p

    medsr.io.memory.memory_plan = noted  # type: ignore[assignment]
    if name.startswith("read"):
        from medsr.io import read_volume

        rests.append(_mark())
        read_volume(folder / "in.nii.gz")
        code = 0
    else:
        from medsr.cli.main import main

        with redirect_stdout(io.StringIO()):
            code = main(argv.split())
    if not rests:
        raise RuntimeError(f"{name}: the command read its input outside memory_plan")
    return {"code": code, "peak_above_rest": _status()["VmHWM"] - rests[0], "rest": rests[0]}


def _tiny_3d(path: Path) -> None:
    """A tiny mDCSRN checkpoint (same code path as the bundled one, small activations)."""
    import torch

    from medsr.artifact.checkpoint import Checkpoint, save_checkpoint
    from medsr.data.intensity import IntensityNorm
    from medsr.models.generators import GENERATORS

    torch.manual_seed(0)
    kw = {"growth": 2, "num_blocks": 1, "num_units": 1}
    model = GENERATORS.build("mdcsrn", **kw).eval()
    save_checkpoint(
        Checkpoint(
            model_name="mdcsrn", model_kwargs=kw, modality="MR", spatial_dims=3,
            scale=(1, 1, 1), intensity=IntensityNorm(kind="percentile"),
            state_dict=model.state_dict(),
        ),
        path,
    )  # fmt: skip


def _write_input(folder: Path, kind: str, shape: tuple[int, int, int]) -> None:
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(0)
    d, h, w = shape
    for name in ("in.nii.gz", "ref.nii.gz"):
        if kind == "ct":
            r = np.hypot(*(np.mgrid[:h, :w] - (h - 1) / 2))
            img = np.where(r < 0.4 * min(h, w), 40.0, -1000.0)[..., None]
            data = img + rng.normal(0, 20, (h, w, d))
        else:
            data = rng.uniform(0, 1000, (w, h, d))
        # NIfTI (i, j, k) = (W, H, D) for an identity affine; int16 unless the kind says
        dtype = kind.partition("-")[2]
        stored = (
            np.float32 if dtype == "float32" else np.float64 if dtype == "float64" else np.int16
        )
        arr = np.ascontiguousarray(np.rint(data).astype(stored).reshape(w, h, d))
        if dtype == "scaled":  # float values stored as int16 with a slope: read in float64
            arr = np.ascontiguousarray((data * 50 + 0.25).astype(np.float32).reshape(w, h, d))
        img = nib.Nifti1Image(arr, np.eye(4))
        if dtype == "scaled":
            img.set_data_dtype(np.int16)
        nib.save(img, folder / name)


def _fit(points: list[tuple[int, int]]) -> dict[str, float]:
    import numpy as np

    n = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    a, c = np.polyfit(n, y, 1)
    resid = y - (a * n + c)
    return {
        "bytes_per_voxel": float(a),
        "fixed_mib": float(c) / 2**20,
        "max_residual_mib": float(np.abs(resid).max()) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="scenario name prefixes")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    names = [n for n in SCENARIOS if not args.only or any(n.startswith(p) for p in args.only)]
    results = {}
    for name in names:
        _, kind, shapes = SCENARIOS[name]
        points = []
        for shape in shapes:
            with tempfile.TemporaryDirectory() as tmp:
                _write_input(Path(tmp), kind, shape)
                if name.startswith("enhance-3d"):
                    _tiny_3d(Path(tmp) / "tiny3d.pt")
                cmd = [sys.executable, __file__, "--child", name, tmp]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{name} {shape}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                break
            res = json.loads(done.stdout.strip().splitlines()[-1])
            if res["code"] != 0:
                print(f"{name} {shape}: exit {res['code']}\n{done.stderr[-500:]}", file=sys.stderr)
                break
            n = shape[0] * shape[1] * shape[2]
            points.append((n, int(res["peak_above_rest"])))
        if len(points) < 2:
            continue
        fit = _fit(points)
        results[name] = {"points": points, **fit}
        print(
            f"{name:28s} {fit['bytes_per_voxel']:7.1f} B/voxel + {fit['fixed_mib']:7.1f} MiB "
            f"(max residual {fit['max_residual_mib']:.1f} MiB)",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
