"""Export: ONNX (ONNX Runtime) and TorchScript reproduce PyTorch on other sizes; enhance runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.cli.main import main

from ._models import MDCSRN_KW, SRRESNET2D_KW, checkpoint, rand

CASES = [("srresnet", SRRESNET2D_KW, (3, 1, 21, 30)), ("mdcsrn", MDCSRN_KW, (1, 1, 9, 14, 11))]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=["srresnet-2d-x2", "mdcsrn-3d"])
def test_onnx_runtime_equals_pytorch(tmp_path: Path, name: str, kwargs: dict, shape: tuple) -> None:  # type: ignore[type-arg]
    ort = pytest.importorskip("onnxruntime")
    ckpt = checkpoint(tmp_path / "m.pt", name, kwargs)
    out = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "-o", str(out)]) == 0
    side = json.loads((tmp_path / "m.onnx.json").read_text())
    assert side["spec"]["name"] == name and side["spec"]["halo"] is not None
    assert side["spec"]["source"]["sha256"] and side["check"]["max_relative_error"] <= 1e-4
    x = torch.from_numpy(rand(shape, seed=5))  # a size and batch the export never saw
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        ref = load_checkpoint(ckpt).build_model()(x).numpy()
    assert got.shape == ref.shape and _rel(got, ref) <= 1e-4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_export_has_dynamic_shapes(tmp_path: Path) -> None:
    ckpt = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET2D_KW)
    out = tmp_path / "m.ts"
    assert main(["export", str(ckpt), "--format", "torchscript", "-o", str(out), "--no-halo"]) == 0
    assert main(["export", str(ckpt), "--format", "torchscript", "-o", str(out)]) == 2  # exists
    loaded = torch.jit.load(str(out))
    x = torch.from_numpy(rand((2, 1, 19, 27), seed=6))
    with torch.no_grad():
        ref = load_checkpoint(ckpt).build_model()(x).numpy()
        got = loaded(x).numpy()
    assert got.shape == (2, 1, 38, 54) and _rel(got, ref) <= 1e-5


@pytest.mark.slow
def test_enhance_with_onnxruntime_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    ckpt = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET2D_KW)
    assert main(["export", str(ckpt), "-o", str(tmp_path / "m.onnx")]) == 0
    np.save(tmp_path / "img.npy", rand((23, 30), lo=0, hi=900))
    common = [str(tmp_path / "img.npy"), "--window", "16", "--exact"]
    assert main(["enhance", *common, "--model", str(ckpt), "-o", str(tmp_path / "a.npy")]) == 0
    assert main(["enhance", *common, "--model", str(tmp_path / "m.onnx"), "--engine", "onnxruntime",
                 "-o", str(tmp_path / "b.npy")]) == 0  # fmt: skip
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (46, 60) and _rel(b, a) <= 1e-4
    rec = json.loads((tmp_path / "b.json").read_text())
    assert rec["model"]["engine"] == "onnxruntime" and rec["options"]["mode"] == "exact"
    assert rec["model"]["checkpoint"] == str(ckpt.resolve())


def test_onnx_export_is_one_self_contained_file(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    ckpt = checkpoint(tmp_path / "m.pt", "srresnet", SRRESNET2D_KW)
    folder = tmp_path / "out"
    assert main(["export", str(ckpt), "-o", str(folder / "m.onnx")]) == 0
    # nothing beside the output and its sidecar: no weights file named after a hidden temp file
    assert sorted(p.name for p in folder.iterdir()) == ["m.onnx", "m.onnx.json"]
    graph = onnx.load(str(folder / "m.onnx"), load_external_data=False).graph
    assert graph.initializer
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in graph.initializer)
    moved = tmp_path / "elsewhere.onnx"  # the file works on its own
    (folder / "m.onnx").rename(moved)
    x = torch.from_numpy(rand((1, 1, 12, 10), seed=7))
    got = ort.InferenceSession(str(moved), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()}
    )[0]
    with torch.no_grad():
        ref = load_checkpoint(ckpt).build_model()(x).numpy()
    assert got.shape == ref.shape and _rel(got, ref) <= 1e-4
