"""InVesalius .inv3 reader on small archives written in the same layout."""

from __future__ import annotations

import io
import plistlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from medsr.errors import InputError
from medsr.io.inv3 import read_inv3


def _write_inv3(path: Path, matrix: np.ndarray, *, shape: list[int], spacing: list[float]) -> None:
    main = {
        "matrix": {"dtype": "int16", "filename": "matrix.dat", "shape": shape},
        "spacing": spacing, "modality": "CT", "name": "test",
    }  # fmt: skip
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in (
            ("main.plist", plistlib.dumps(main)),
            ("matrix.dat", matrix.astype("<i2").tobytes()),
        ):
            info = tarfile.TarInfo(f"tmpdir/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_small_archive(tmp_path: Path) -> None:
    m = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4) - 1000
    _write_inv3(tmp_path / "a.inv3", m, shape=[2, 3, 4], spacing=[0.5, 0.6, 2.0])
    vol = read_inv3(tmp_path / "a.inv3")
    assert vol.shape == (2, 3, 4) and vol.spacing == pytest.approx((2.0, 0.6, 0.5))
    np.testing.assert_array_equal(vol.array[0], m[:, :, ::-1])  # columns flipped to run towards R
    assert vol.unit == "HU"


def test_size_mismatch_is_refused(tmp_path: Path) -> None:
    _write_inv3(tmp_path / "bad.inv3", np.zeros(10, np.int16), shape=[2, 3, 4], spacing=[1, 1, 1])
    with pytest.raises(InputError, match=r"bad\.inv3.*bytes"):
        read_inv3(tmp_path / "bad.inv3")
