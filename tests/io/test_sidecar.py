"""JSON sidecars: path derivation, NumPy conversion, atomic non-overwriting writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.errors import MedsrError
from medsr.io import sidecar_path, write_json_sidecar


def test_sidecar_path() -> None:
    assert sidecar_path("out/x.nii.gz") == Path("out/x.json")
    assert sidecar_path("x.png") == Path("x.json")
    assert sidecar_path("x.weird") == Path("x.weird.json")


def test_write_json_sidecar(tmp_path: Path) -> None:
    data = {"kind": "kspace", "factor": np.int64(2), "axes": (0, 1), "spacing": np.array([1.0, 0.5]),
            "bad": float("nan"), "path": tmp_path}  # fmt: skip
    out = write_json_sidecar(tmp_path / "s.json", data)
    loaded = json.loads(out.read_text())
    assert loaded == {"kind": "kspace", "factor": 2, "axes": [0, 1], "spacing": [1.0, 0.5],
                      "bad": None, "path": str(tmp_path)}  # fmt: skip
    with pytest.raises(MedsrError, match="already exists"):
        write_json_sidecar(out, {"x": 1})
    assert json.loads(out.read_text())["kind"] == "kspace"
    write_json_sidecar(out, {"x": 1}, overwrite=True)
    assert json.loads(out.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
