"""PNG / JPEG / TIFF reading (8 and 16 bit, colour to luminance) and PNG writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsr.data import Volume
from medsr.errors import InputError
from medsr.io import read_volume, write_volume


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_png_round_trip(tmp_path: Path, dtype: type, top: int) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, top + 1, size=(13, 17)).astype(dtype)
    arr[0, 0], arr[-1, -1] = 0, top
    Image.fromarray(arr).save(tmp_path / "in.png")
    vol = read_volume(tmp_path / "in.png")
    assert vol.array.shape == (1, 1, 13, 17)
    assert vol.meta["bit_depth"] == 8 * np.dtype(dtype).itemsize
    np.testing.assert_array_equal(vol.array[0, 0], arr.astype(np.float32))
    out = write_volume(vol, tmp_path / "out.png", png_bits=8 * np.dtype(dtype).itemsize)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), arr)


def test_png_writer_scales_float_data(tmp_path: Path) -> None:
    vol = Volume.from_array(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4))
    back = np.asarray(Image.open(write_volume(vol, tmp_path / "f.png", png_bits=16)))
    assert back.dtype == np.uint16 and back.min() == 0 and back.max() == 65535
    assert np.all(np.diff(back.ravel().astype(int)) > 0)


def test_png_writer_refuses_3d(tmp_path: Path) -> None:
    vol = Volume.from_array(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(InputError, match=r"vol\.png"):
        write_volume(vol, tmp_path / "vol.png")
    assert not (tmp_path / "vol.png").exists()


def test_rgb_jpeg_becomes_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=100)
    vol = read_volume(tmp_path / "c.png")
    np.testing.assert_allclose(vol.array, 0.299 * 200, atol=1e-4)
    assert "luminance" in vol.meta["note"]
    jpg = read_volume(tmp_path / "c.jpg")
    assert abs(float(jpg.array.mean()) - 0.299 * 200) < 3


def test_tiff_16bit(tmp_path: Path) -> None:
    arr = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    Image.fromarray(arr).save(tmp_path / "t.tif")
    vol = read_volume(tmp_path / "t.tif", modality="XR")
    assert vol.modality == "XR"
    np.testing.assert_array_equal(vol.array[0, 0], arr)
