"""fastMRI-style HDF5: reconstructions and k-space (single and multi-coil)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from medsr.errors import InputError
from medsr.io import read_volume
from medsr.io.hdf5 import rss_from_kspace


def _kspace(img: np.ndarray) -> np.ndarray:
    """Centred forward FFT over the last two axes (fastMRI convention)."""
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img, axes=axes), norm="ortho"), axes=axes)


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((3, 10, 12)).astype(np.float32)


def test_reconstructions_and_default_key(tmp_path: Path, image: np.ndarray) -> None:
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f["kspace"] = _kspace(image).astype(np.complex64)
        f["reconstruction_rss"] = image * 2
        f.attrs["acquisition"] = "CORPD_FBK"
    vol = read_volume(path)
    assert vol.meta["key"] == "reconstruction_rss" and vol.modality == "MR"
    np.testing.assert_allclose(vol.array[0], image * 2)
    assert vol.meta["attr_acquisition"] == "CORPD_FBK"
    ks = read_volume(path, key="kspace")
    np.testing.assert_allclose(ks.array[0], image, atol=1e-5)


def test_multicoil_kspace_is_rss(tmp_path: Path, image: np.ndarray) -> None:
    sens = np.stack([np.full(image.shape[1:], 0.6), np.full(image.shape[1:], 0.8j)])
    coils = image[:, None] * sens[None]  # (slices, coils, H, W); RSS of the sensitivities is 1
    with h5py.File(tmp_path / "mc.h5", "w") as f:
        f["kspace"] = _kspace(coils).astype(np.complex64)
    vol = read_volume(tmp_path / "mc.h5")
    assert vol.meta["key"] == "kspace" and vol.array.shape == (1, 3, 10, 12)
    np.testing.assert_allclose(vol.array[0], image, atol=1e-5)
    np.testing.assert_allclose(rss_from_kspace(_kspace(coils)), image, atol=1e-5)


def test_missing_or_bad_datasets(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "none.h5", "w") as f:
        f["something"] = np.zeros((2, 2, 2))
    with pytest.raises(InputError, match=r"none\.h5.*reconstruction_esc"):
        read_volume(tmp_path / "none.h5")
    with h5py.File(tmp_path / "real.h5", "w") as f:
        f["kspace"] = np.zeros((2, 4, 4), dtype=np.float32)
    with pytest.raises(InputError, match=r"real\.h5.*complex"):
        read_volume(tmp_path / "real.h5")
    with pytest.raises(InputError, match=r"real\.h5.*reconstruction_esc"):
        read_volume(tmp_path / "real.h5", key="reconstruction_esc")
