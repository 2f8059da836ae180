"""Bad inputs across the CLI: every one ends with exit 2, one stderr line, nothing written.

Each row builds its bad input, runs ``medsr`` in-process and checks the README's promise: exit
code 2, exactly one line on stderr (``medsr: error: ...``, no warning before it) that names the
file or the option at fault and says what is wrong with it, and an output folder left as it was
(no output, sidecar, partial, lock file or run folder).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import plistlib
import tarfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import Checkpoint, save_checkpoint
from medsr.cli.main import main
from medsr.data.intensity import IntensityNorm
from tests.infer._models import MDCSRN_KW, SRRESNET2D_KW, checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_CONFIG = CONFIGS / "tiny" / "srrescycgan.yaml"


@dataclass
class Case:
    """One bad invocation.

    Attributes:
        argv: The command line; ``{k}`` is the kit folder (inputs), ``{o}`` the output folder.
        names: What the error line must name (a file name or an option).
        problem: Words of the problem the line must say (case-insensitive).
        keep: Files (relative to the output folder) that exist before and must stay unchanged.
        setup: Makes ``keep`` (and anything else) in the output folder first.
        available: Pretend this much memory (bytes) is available.
    """

    argv: str
    names: tuple[str, ...]
    problem: str
    keep: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None
    available: int | None = None


def _nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> None:
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)


def _header_only(path: Path, shape: tuple[int, ...], dtype: type) -> None:
    """A gzip NIfTI of a few hundred bytes whose header claims ``shape``."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr["vox_offset"] = 352
    hdr.set_sform(np.eye(4), code=1)
    path.write_bytes(gzip.compress(hdr.binaryblock + b"\0" * 4 + b"\0" * 4096))


def _ckpt(path: Path, **change: object) -> Path:
    """A valid tiny 2D checkpoint with some fields changed."""
    from medsr.models.generators import GENERATORS

    torch.manual_seed(0)
    model = GENERATORS.build("srresnet", **SRRESNET2D_KW)
    fields: dict[str, object] = {
        "model_name": "srresnet",
        "model_kwargs": dict(SRRESNET2D_KW),
        "modality": "MR",
        "spatial_dims": 2,
        "scale": (1, 2, 2),
        "intensity": IntensityNorm(kind="percentile"),
        "state_dict": model.state_dict(),
    }
    fields.update(change)
    return save_checkpoint(Checkpoint(**fields), path)  # type: ignore[arg-type]


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def _inv3(path: Path, main_plist: object, matrix: bytes = b"") -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in (("main.plist", plistlib.dumps(main_plist)), ("matrix.dat", matrix)):
            info = tarfile.TarInfo(f"p/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def _run_dir(folder: Path, ckpt_bytes: bytes | None = None, ckpt_from: Path | None = None) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    target = folder / "checkpoints" / "ckpt_00000004.pt"
    if ckpt_from is not None:
        target.write_bytes(ckpt_from.read_bytes())
    else:
        target.write_bytes(ckpt_bytes or b"")
    return folder


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input the table uses, made once."""
    k = tmp_path_factory.mktemp("kit")
    rng = np.random.default_rng(0)
    checkpoint(k / "mr2d.pt", "srresnet", SRRESNET2D_KW)
    checkpoint(k / "mr3d.pt", "mdcsrn", MDCSRN_KW)
    checkpoint(k / "ct3d.pt", "mdcsrn", MDCSRN_KW, modality="CT",
               norm=IntensityNorm(kind="hu-window"))  # fmt: skip
    _ckpt(k / "badmod.pt", modality="PET")
    _ckpt(k / "scale0.pt", scale=(1, 0, 0))
    _ckpt(k / "dims7.pt", spatial_dims=7)
    _ckpt(k / "badkey.pt", model_name="no_such_net")
    _ckpt(k / "badkw.pt", model_kwargs={**SRRESNET2D_KW, "bogus": 3})
    _ckpt(k / "badshape.pt", state_dict={"head.0.weight": torch.zeros(3)})
    nan_state = checkpoint(k / "ok2d.pt", "srresnet", SRRESNET2D_KW)
    weights = torch.load(nan_state, weights_only=True)["state_dict"]
    weights = {n: t.clone() for n, t in weights.items()}
    next(t for t in weights.values() if t.is_floating_point()).view(-1)[0] = float("nan")
    _ckpt(k / "nanweights.pt", state_dict=weights)
    torch.save({"weights": torch.zeros(2)}, k / "foreign.pt")
    torch.save({"format": "medsr-checkpoint", "x": _Evil()}, k / "evil.pt")
    (k / "evil_raw.pt").write_bytes(pickle.dumps(_Evil()))
    (k / "text.pt").write_text("a text file, not a checkpoint\n" * 20)
    (k / "garbage.pt").write_bytes(rng.bytes(4000))
    (k / "empty.pt").write_bytes(b"")
    _nifti(k / "x.nii.gz", rng.random((20, 24, 16)).astype(np.float32) * 100)
    _nifti(k / "y.nii.gz", rng.random((20, 24, 16)).astype(np.float32) * 100)
    _nifti(k / "z.nii.gz", rng.random((20, 24, 12)).astype(np.float32) * 100)
    _nifti(k / "one_d.nii.gz", rng.random(200).astype(np.float32))
    _nifti(k / "one_d_k.nii.gz", rng.random((1, 1, 30)).astype(np.float32))
    _nifti(k / "four_d.nii.gz", rng.random((6, 6, 6, 3)).astype(np.float32))
    nan = rng.random((8, 8, 8)).astype(np.float32)
    nan[2, 3, 4] = np.nan
    _nifti(k / "nan.nii.gz", nan)
    _nifti(k / "complex.nii.gz", (rng.random((8, 8, 8)) + 1j).astype(np.complex64))
    rgb = np.zeros((8, 8, 8), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    _nifti(k / "rgb.nii.gz", rgb)
    _nifti(k / "nonsquare.nii.gz", np.full((16, 12, 4), 40, np.int16), np.diag([1, 2, 1, 1]))
    full = (k / "x.nii.gz").read_bytes()
    (k / "truncated.nii.gz").write_bytes(full[: len(full) // 2])
    (k / "text.nii.gz").write_text("not an image\n" * 30)
    (k / "empty.nii.gz").write_bytes(b"")
    _header_only(k / "huge.nii.gz", (30000, 30000, 30000), np.float32)
    _header_only(k / "claims1200.nii.gz", (1200, 1200, 1200), np.int16)
    _header_only(k / "claims400x300x200.nii.gz", (400, 300, 200), np.int16)
    (k / "x.xyz").write_text("what is this\n")
    from PIL import Image

    Image.fromarray((rng.random((24, 20)) * 255).astype(np.uint8)).save(k / "slice.png")
    good = {"matrix": {"dtype": "int16", "filename": "matrix.dat", "shape": [2, 3, 4]},
            "spacing": [1.0, 1.0, 1.0], "modality": "CT"}  # fmt: skip
    zeros = np.zeros(24, "<i2").tobytes()
    _inv3(k / "list.inv3", [1, 2, 3], zeros)
    _inv3(k / "huge.inv3", {**good, "matrix": {**good["matrix"], "shape": [5000] * 3}}, zeros)
    _inv3(k / "spacing.inv3", {**good, "spacing": ["a", 1, 1]}, zeros)
    _inv3(k / "short.inv3", good, zeros[:10])
    (k / "notgz.inv3").write_bytes(b"\x1f\x8b" + rng.bytes(300))
    (k / "emptydir").mkdir()
    (k / "bin.yaml").write_bytes(b"\xff\xfe\x00\x81\x99binary" * 10)
    (k / "list.yaml").write_text("- just\n- a list\n")
    (k / "unknown.yaml").write_text(TINY_CONFIG.read_text() + "\nbogus_key: 1\n")
    (k / "dup.yaml").write_text(TINY_CONFIG.read_text() + "\nseed: 3\n")
    _run_dir(k / "run_text", (k / "text.pt").read_bytes())
    _run_dir(k / "run_garbage", (k / "garbage.pt").read_bytes())
    _run_dir(k / "run_inference", ckpt_from=k / "mr2d.pt")
    (k / "notes.txt").write_text("a file\n")
    return k


def _file(name: str, text: str = "old") -> Callable[[Path], None]:
    def make(out: Path) -> None:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)

    return make


_EN = "enhance {k}/x.nii.gz -o {o}/a.nii.gz --model"
GIB = 2**30

CASES: dict[str, Case] = {
    # ------------------------------------------------------------ enhance: the model
    "enhance/model-text": Case(f"{_EN} {{k}}/text.pt", ("text.pt",), "not a medsr checkpoint"),
    "enhance/model-garbage": Case(f"{_EN} {{k}}/garbage.pt", ("garbage.pt",), "checkpoint"),
    "enhance/model-empty": Case(f"{_EN} {{k}}/empty.pt", ("empty.pt",), "checkpoint"),
    "enhance/model-missing": Case(f"{_EN} {{k}}/missing.pt", ("missing.pt",), "not found"),
    "enhance/model-folder": Case(f"{_EN} {{k}}/emptydir", ("emptydir",), "not found"),
    "enhance/model-evil": Case(f"{_EN} {{k}}/evil.pt", ("evil.pt",), "executable pickle"),
    "enhance/model-evil-raw": Case(f"{_EN} {{k}}/evil_raw.pt", ("evil_raw.pt",), "pickle"),
    "enhance/model-foreign": Case(f"{_EN} {{k}}/foreign.pt", ("foreign.pt",), "not a medsr"),
    "enhance/model-modality": Case(f"{_EN} {{k}}/badmod.pt", ("badmod.pt",), "task.modality"),
    "enhance/model-scale-0": Case(f"{_EN} {{k}}/scale0.pt", ("scale0.pt",), "task.scale"),
    "enhance/model-dims-7": Case(f"{_EN} {{k}}/dims7.pt", ("dims7.pt",), "task.spatial_dims"),
    "enhance/model-key": Case(f"{_EN} {{k}}/badkey.pt", ("badkey.pt",), "unknown generator"),
    "enhance/model-kwargs": Case(f"{_EN} {{k}}/badkw.pt", ("badkw.pt",), "bogus"),
    "enhance/model-weights": Case(f"{_EN} {{k}}/badshape.pt", ("badshape.pt",), "do not fit"),
    "enhance/model-nan-weights": Case(f"{_EN} {{k}}/nanweights.pt", ("nanweights.pt",), "NaN"),
    "enhance/model-onnx-without-sidecar": Case(
        f"{_EN} {{k}}/mr3d.pt --engine onnxruntime", ("mr3d.pt",), "export"
    ),
    # ------------------------------------------------------------ enhance: options
    "enhance/device-bogus": Case(f"{_EN} {{k}}/mr3d.pt --device bogus", ("--device",), "device"),
    "enhance/device-index": Case(f"{_EN} {{k}}/mr3d.pt --device cuda:99", ("--device",), "cuda"),
    "enhance/gan-weight": Case(f"{_EN} {{k}}/mr3d.pt --gan-weight 2", ("--gan-weight",), "[0, 1]"),
    "enhance/window-0": Case(f"{_EN} {{k}}/mr3d.pt --window 0", ("--window",), ">= 1"),
    "enhance/window-per-axis": Case(
        f"{_EN} {{k}}/mr3d.pt --window 8 8", ("--window",), "3D model"
    ),
    "enhance/overlap": Case(f"{_EN} {{k}}/mr3d.pt --overlap 1.5", ("--overlap",), "[0, 1)"),
    "enhance/batch-size": Case(f"{_EN} {{k}}/mr3d.pt --batch-size 0", ("--batch-size",), ">= 1"),
    "enhance/adapt-negative": Case(f"{_EN} {{k}}/mr3d.pt --adapt -1", ("--adapt",), ">= 0"),
    "enhance/save-adapted-alone": Case(
        f"{_EN} {{k}}/mr3d.pt --save-adapted {{o}}/s.pt", ("--save-adapted",), "--adapt"
    ),
    "enhance/bf16-onnx": Case(
        f"{_EN} {{k}}/mr3d.pt --bf16 --engine onnxruntime", ("--bf16",), "torch engine"
    ),
    "enhance/kspace-factor-huge": Case(
        f"{_EN} {{k}}/mr3d.pt --data-consistency --kspace-factor 1e9", ("k-space factor",),
        "at least 2",
    ),
    "enhance/kspace-factor-below-1": Case(
        f"{_EN} {{k}}/mr3d.pt --data-consistency --kspace-factor 0.5", ("--kspace-factor",),
        ">= 1",
    ),
    "enhance/kspace-factor-alone": Case(
        f"{_EN} {{k}}/mr3d.pt --kspace-factor 2", ("--kspace-factor",), "--data-consistency"
    ),
    "enhance/data-consistency-ct": Case(
        "enhance {k}/x.nii.gz -o {o}/a.nii.gz --model {k}/ct3d.pt --modality CT "
        "--data-consistency --kspace-factor 2", ("data consistency",), "MRI",
    ),
    # ------------------------------------------------------------ enhance: the input
    "enhance/input-1d": Case(
        "enhance {k}/one_d.nii.gz -o {o}/a.nii.gz --model {k}/mr2d.pt", ("one_d.nii.gz",),
        "2D model needs",
    ),
    "enhance/input-1d-3d-model": Case(
        "enhance {k}/one_d_k.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("one_d_k.nii.gz",),
        "3D model needs",
    ),
    "enhance/3d-model-on-png": Case(
        "enhance {k}/slice.png -o {o}/a.png --model {k}/mr3d.pt", ("slice.png",), "2D image"
    ),
    "enhance/modality-mismatch": Case(
        f"{_EN} {{k}}/mr3d.pt --modality CT", ("x.nii.gz",), "modality"
    ),
    "enhance/input-missing": Case(
        "enhance {k}/nope.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("nope.nii.gz",), "no such"
    ),
    "enhance/input-empty": Case(
        "enhance {k}/empty.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("empty.nii.gz",), "empty"
    ),
    "enhance/input-text": Case(
        "enhance {k}/text.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("text.nii.gz",), "nifti"
    ),
    "enhance/input-truncated": Case(
        "enhance {k}/truncated.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt",
        ("truncated.nii.gz",), "truncated",
    ),
    "enhance/input-header-30000^3": Case(
        "enhance {k}/huge.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("huge.nii.gz",), "voxels"
    ),
    "enhance/input-header-1200^3-int16": Case(
        "enhance {k}/claims1200.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt",
        ("claims1200.nii.gz",), "for medsr enhance", available=16 * GIB,
    ),
    "enhance/input-extension": Case(
        "enhance {k}/x.xyz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("x.xyz",), "unsupported"
    ),
    "enhance/input-nan": Case(
        "enhance {k}/nan.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("nan.nii.gz",), "NaN"
    ),
    "enhance/input-4d": Case(
        "enhance {k}/four_d.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("four_d.nii.gz",), "4D"
    ),
    "enhance/input-complex": Case(
        "enhance {k}/complex.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("complex.nii.gz",),
        "complex",
    ),
    "enhance/input-rgb": Case(
        "enhance {k}/rgb.nii.gz -o {o}/a.nii.gz --model {k}/mr3d.pt", ("rgb.nii.gz",), "RGB"
    ),
    "enhance/input-empty-folder": Case(
        "enhance {k}/emptydir -o {o}/a.nii.gz --model {k}/mr3d.pt", ("emptydir",), "no scan"
    ),
    "enhance/inv3-plist-list": Case(
        "enhance {k}/list.inv3 -o {o}/a.nii.gz --model {k}/mr3d.pt", ("list.inv3",), "main.plist"
    ),
    "enhance/inv3-huge-shape": Case(
        "enhance {k}/huge.inv3 -o {o}/a.nii.gz --model {k}/mr3d.pt", ("huge.inv3",), "voxels"
    ),
    "enhance/inv3-spacing": Case(
        "enhance {k}/spacing.inv3 -o {o}/a.nii.gz --model {k}/mr3d.pt", ("spacing.inv3",),
        "spacing",
    ),
    "enhance/inv3-short-matrix": Case(
        "enhance {k}/short.inv3 -o {o}/a.nii.gz --model {k}/mr3d.pt", ("short.inv3",), "bytes"
    ),
    "enhance/inv3-not-gzip": Case(
        "enhance {k}/notgz.inv3 -o {o}/a.nii.gz --model {k}/mr3d.pt", ("notgz.inv3",),
        "not a readable",
    ),
    # ------------------------------------------------------------ enhance: the output
    "enhance/output-extension": Case(
        "enhance {k}/x.nii.gz -o {o}/a.txt --model {k}/mr3d.pt", ("a.txt",), "'.txt'"
    ),
    "enhance/output-exists": Case(
        f"{_EN} {{k}}/mr3d.pt", ("a.nii.gz",), "already exists", keep=("a.nii.gz",),
        setup=_file("a.nii.gz"),
    ),
    "enhance/output-under-a-file": Case(
        "enhance {k}/x.nii.gz -o {o}/blocker/a.nii.gz --model {k}/mr3d.pt", ("blocker",),
        "not a folder", keep=("blocker",), setup=_file("blocker"),
    ),
    "enhance/output-symlink": Case(
        f"{_EN} {{k}}/mr3d.pt", ("a.nii.gz",), "already exists", keep=("a.nii.gz", "target"),
        setup=lambda o: (_file("target")(o), (o / "a.nii.gz").symlink_to(o / "target")),
    ),
    # ------------------------------------------------------------ degrade
    "degrade/kspace-1e6": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind kspace --factor 1e6", ("k-space",),
        "at least 2",
    ),
    "degrade/kspace-keep-shape-1e6": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind kspace --factor 1e6 --keep-shape",
        ("k-space",), "k-space lines",
    ),
    "degrade/decimate-1000": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind decimate --factor 1000", ("decimation",),
        "at least 2",
    ),
    "degrade/downsample-factor-0": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind downsample --factor 0", ("--factor",),
        "positive integers",
    ),
    "degrade/kspace-factor-below-1": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind kspace --factor 0.5", ("factor",), ">= 1"
    ),
    "degrade/flag-of-another-kind": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind kspace --factor 2 --sigma 3", ("--sigma",),
        "does not apply",
    ),
    "degrade/missing-factor": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind downsample", ("--factor",), "needs"
    ),
    "degrade/two-factors": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind downsample --factor 2 2", ("--factor",),
        "1 or 3 values",
    ),
    "degrade/thickness-spacing": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind thickness --thickness 2 --spacing 1.5",
        ("spacing",), "integer multiple",
    ),
    "degrade/lowdose-non-square": Case(
        "degrade {k}/nonsquare.nii.gz -o {o}/d.nii.gz --kind lowdose-ct", ("in-plane",), "square"
    ),
    "degrade/input-missing": Case(
        "degrade {k}/nope.nii.gz -o {o}/d.nii.gz --kind gaussian --sigma 1", ("nope.nii.gz",),
        "no such",
    ),
    "degrade/input-text": Case(
        "degrade {k}/text.nii.gz -o {o}/d.nii.gz --kind gaussian --sigma 1", ("text.nii.gz",),
        "nifti",
    ),
    "degrade/output-extension": Case(
        "degrade {k}/x.nii.gz -o {o}/d.txt --kind gaussian --sigma 1", ("d.txt",), "'.txt'"
    ),
    "degrade/output-exists": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind gaussian --sigma 1", ("d.nii.gz",),
        "already exists", keep=("d.nii.gz",), setup=_file("d.nii.gz"),
    ),
    "degrade/memory": Case(
        "degrade {k}/x.nii.gz -o {o}/d.nii.gz --kind kspace --factor 2", ("x.nii.gz",),
        "medsr degrade --kind kspace", available=20 * 24 * 16 * 20,
    ),
    # ------------------------------------------------------------ baseline
    "baseline/scale-1000": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale 1000", ("x.nii.gz",), "memory"
    ),
    "baseline/memory-says-the-file-order": Case(
        "baseline cubic {k}/claims400x300x200.nii.gz -o {o}/b.nii.gz --scale 2",
        ("claims400x300x200.nii.gz", "(400, 300, 200) (file order)"), "medsr baseline cubic",
        available=GIB,
    ),
    "baseline/sigma-inf": Case(
        "baseline nlm {k}/x.nii.gz -o {o}/b.nii.gz --sigma inf", ("--sigma",), "finite number"
    ),
    "baseline/slice-tolerance-negative": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale 2 --slice-tolerance -1",
        ("--slice-tolerance",), ">= 0 mm",
    ),
    "baseline/scale-not-a-number": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale abc", ("--scale", "medsr baseline"),
        "invalid int value",
    ),
    "export/format-bogus": Case(
        "export {k}/mr2d.pt -o {o}/m.onnx --format bogus", ("--format", "medsr export --help"),
        "invalid choice",
    ),
    "enhance/axis-5": Case(
        f"{_EN} {{k}}/mr2d.pt --axis 5", ("--axis", "medsr enhance --help"), "invalid choice"
    ),
    "baseline/unknown-name": Case(
        "baseline sharpest {k}/x.nii.gz -o {o}/b.nii.gz", ("sharpest",), "unknown"
    ),
    "baseline/upsample-without-scale": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz", ("--scale",), "upsamples"
    ),
    "baseline/two-scales": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale 2 2", ("--scale",), "1 or 3"
    ),
    "baseline/scale-0": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale 0", ("--scale",), "positive"
    ),
    "baseline/denoiser-with-scale": Case(
        "baseline nlm {k}/x.nii.gz -o {o}/b.nii.gz --scale 2", ("nlm",), "no scale"
    ),
    "baseline/input-garbage": Case(
        "baseline cubic {k}/garbage.pt -o {o}/b.nii.gz --scale 2", ("garbage.pt",), "unsupported"
    ),
    "baseline/output-exists": Case(
        "baseline cubic {k}/x.nii.gz -o {o}/b.nii.gz --scale 2", ("b.nii.gz",), "already exists",
        keep=("b.nii.gz",), setup=_file("b.nii.gz"),
    ),
    # ------------------------------------------------------------ evaluate
    "evaluate/out-is-a-file": Case(
        "evaluate {k}/x.nii.gz --ref {k}/y.nii.gz --protocol unit-range --out {o}/notes",
        ("notes",), "not a folder", keep=("notes",), setup=_file("notes"),
    ),
    "evaluate/unknown-protocol": Case(
        "evaluate {k}/x.nii.gz --ref {k}/y.nii.gz --protocol whole --out {o}/m", ("whole",),
        "unknown protocol",
    ),
    "evaluate/count-mismatch": Case(
        "evaluate {k}/x.nii.gz {k}/y.nii.gz --ref {k}/y.nii.gz --protocol unit-range --out {o}/m",
        ("--ref",), "one reference per prediction",
    ),
    "evaluate/shape-mismatch": Case(
        "evaluate {k}/x.nii.gz --ref {k}/z.nii.gz --protocol unit-range --out {o}/m",
        ("x.nii.gz", "z.nii.gz"), "does not match",
    ),
    "evaluate/ref-missing": Case(
        "evaluate {k}/x.nii.gz --ref {k}/nope.nii.gz --protocol unit-range --out {o}/m",
        ("nope.nii.gz",), "no such",
    ),
    "evaluate/pred-truncated": Case(
        "evaluate {k}/truncated.nii.gz --ref {k}/y.nii.gz --protocol unit-range --out {o}/m",
        ("truncated.nii.gz",), "truncated",
    ),
    # ------------------------------------------------------------ train
    "train/binary-yaml": Case(
        "train {k}/bin.yaml --out {o}/run", ("bin.yaml",), "not a YAML text file"
    ),
    "train/yaml-list": Case("train {k}/list.yaml --out {o}/run", ("list.yaml",), "mapping"),
    "train/unknown-key": Case(
        "train {k}/unknown.yaml --out {o}/run", ("bogus_key",), "unknown key"
    ),
    "train/duplicate-key": Case("train {k}/dup.yaml --out {o}/run", ("seed",), "duplicate"),
    "train/config-missing": Case("train {k}/nope.yaml --out {o}/run", ("nope.yaml",), "not found"),
    "train/no-config": Case("train --out {o}/run", ("CONFIG",), "give a CONFIG"),
    "train/bad-set": Case(
        f"train {TINY_CONFIG} --out {{o}}/run --set train.steps=0", ("train.steps",), "> 0"
    ),
    "train/device-bogus": Case(
        f"train {TINY_CONFIG} --out {{o}}/run --set train.device=bogus", ("train.device",),
        "not a device",
    ),
    "train/out-is-a-file": Case(
        f"train {TINY_CONFIG} --out {{o}}/notes", ("notes",), "is a file", keep=("notes",),
        setup=_file("notes"),
    ),
    "train/out-not-empty": Case(
        f"train {TINY_CONFIG} --out {{o}}/run", ("run",), "not empty", keep=("run/x",),
        setup=_file("run/x"),
    ),
    "train/resume-a-file": Case("train --resume {k}/notes.txt", ("notes.txt",), "run folder"),
    "train/resume-text-checkpoint": Case(
        "train --resume {k}/run_text", ("ckpt_00000004.pt",), "not a medsr checkpoint"
    ),
    "train/resume-garbage-checkpoint": Case(
        "train --resume {k}/run_garbage", ("ckpt_00000004.pt",), "checkpoint"
    ),
    "train/resume-no-training-state": Case(
        "train --resume {k}/run_inference", ("ckpt_00000004.pt",), "training state"
    ),
    "train/resume-empty-folder": Case(
        "train --resume {k}/emptydir", ("emptydir",), "no checkpoints"
    ),
    # ------------------------------------------------------------ export
    "export/text": Case("export {k}/text.pt -o {o}/m.onnx", ("text.pt",), "not a medsr"),
    "export/garbage": Case("export {k}/garbage.pt -o {o}/m.onnx", ("garbage.pt",), "checkpoint"),
    "export/empty": Case("export {k}/empty.pt -o {o}/m.onnx", ("empty.pt",), "checkpoint"),
    "export/missing": Case("export {k}/missing.pt -o {o}/m.onnx", ("missing.pt",), "not found"),
    "export/evil": Case("export {k}/evil.pt -o {o}/m.onnx", ("evil.pt",), "executable pickle"),
    "export/foreign": Case("export {k}/foreign.pt -o {o}/m.onnx", ("foreign.pt",), "not a medsr"),
    "export/modality": Case("export {k}/badmod.pt -o {o}/m.onnx", ("badmod.pt",), "modality"),
    "export/scale-0": Case("export {k}/scale0.pt -o {o}/m.onnx", ("scale0.pt",), "task.scale"),
    "export/dims-7": Case("export {k}/dims7.pt -o {o}/m.onnx", ("dims7.pt",), "spatial_dims"),
    "export/registry-key": Case(
        "export {k}/badkey.pt -o {o}/m.onnx", ("badkey.pt",), "unknown generator"
    ),
    "export/kwargs": Case("export {k}/badkw.pt -o {o}/m.onnx", ("badkw.pt",), "bogus"),
    "export/weights": Case("export {k}/badshape.pt -o {o}/m.onnx", ("badshape.pt",), "do not fit"),
    "export/nan-weights": Case("export {k}/nanweights.pt -o {o}/m.onnx", ("nanweights.pt",), "NaN"),
    "export/torchscript-weights": Case(
        "export {k}/badshape.pt --format torchscript -o {o}/m.pt", ("badshape.pt",), "do not fit"
    ),
    "export/output-exists": Case(
        "export {k}/mr2d.pt -o {o}/m.onnx", ("m.onnx",), "already exists", keep=("m.onnx",),
        setup=_file("m.onnx"),
    ),
}  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    """Every file (hidden ones included) under ``folder``, relative path -> content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() or p.is_file():
            out[p.relative_to(folder).as_posix()] = p.read_bytes() if p.exists() else b"->"
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    name: str,
    kit: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    out = tmp_path / "out"
    out.mkdir()
    if case.setup is not None:
        case.setup(out)
    before = _files(out)
    assert sorted(before) == sorted(case.keep)
    if case.available is not None:
        monkeypatch.setattr("medsr.io._common.available_memory", lambda: case.available)
    argv = [a.format(k=kit, o=out) for a in case.argv.split()]
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:  # a usage error found by argparse
            code = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    lines = err.splitlines() + [f"warning: {w.message}" for w in shown]
    assert code == 2, f"exit {code}: {err}"
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("medsr: error: ") and not line.startswith("medsr: error: internal")
    for what in case.names:
        assert what in line, f"{what!r} not named in: {line}"
    assert case.problem.lower() in line.lower(), line
    assert _files(out) == before, "the output folder changed"
    assert sorted(p.name for p in out.iterdir()) == sorted({k.split("/")[0] for k in case.keep})


def test_the_table_is_large_and_covers_every_command() -> None:
    commands = {name.split("/")[0] for name in CASES}
    assert commands == {"enhance", "degrade", "baseline", "evaluate", "train", "export"}
    assert len(CASES) >= 60
