"""NPY / NPZ arrays and the paired low-dose CT dict {'f_nd', 'f_qd'}."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr.conventions import MU_WATER_PER_MM
from medsr.errors import InputError
from medsr.io import read_paired_ct, read_volume, write_volume


def test_npy_2d_and_3d(tmp_path: Path) -> None:
    a2 = np.arange(12, dtype=np.int16).reshape(3, 4)
    a3 = np.random.default_rng(0).random((2, 3, 4))
    np.save(tmp_path / "a2.npy", a2)
    np.save(tmp_path / "a3.npy", a3)
    v2, v3 = read_volume(tmp_path / "a2.npy"), read_volume(tmp_path / "a3.npy")
    assert v2.array.shape == (1, 1, 3, 4) and v2.array.dtype == np.float32
    np.testing.assert_array_equal(v2.array[0, 0], a2)
    np.testing.assert_allclose(v3.array[0], a3, rtol=1e-6)
    assert v3.spacing == (1.0, 1.0, 1.0) and "note" in v3.meta


def test_npz_key_choice(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", image=np.ones((4, 5)), other=np.zeros((4, 5)))
    assert read_volume(tmp_path / "m.npz", key="image").array.sum() == 20
    with pytest.raises(InputError, match=r"m\.npz.*several arrays.*own \.npy") as info:
        read_volume(tmp_path / "m.npz")
    assert "key=" not in str(info.value)  # the CLI has no way to pass a key
    with pytest.raises(InputError, match=r"no array 'nope'.*'image'"):
        read_volume(tmp_path / "m.npz", key="nope")


def test_npy_writer_round_trip(tmp_path: Path) -> None:
    arr = np.arange(24.0).reshape(2, 3, 4)
    vol = read_volume(_npy(tmp_path / "x.npy", arr))
    out = write_volume(vol, tmp_path / "y.npy")
    np.testing.assert_array_equal(np.load(out), arr)  # the layout the user gave: (D, H, W)
    assert np.load(out).dtype == np.float32
    two = vol.with_array(
        np.stack([vol.array[0], 2 * vol.array[0]])
    )  # several channels: (C, D, H, W)
    np.testing.assert_array_equal(np.load(write_volume(two, tmp_path / "z.npy")), two.array)


def _npy(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr)
    return path


@pytest.fixture
def pair() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    nd = rng.normal(40.0, 10.0, size=(6, 8)).astype(np.float32)
    return {"f_nd": nd, "f_qd": nd + rng.normal(0.0, 20.0, size=nd.shape).astype(np.float32)}


@pytest.mark.parametrize("container", ["npy_dict", "npz"])
def test_paired_ct(tmp_path: Path, pair: dict[str, np.ndarray], container: str) -> None:
    if container == "npy_dict":
        path = tmp_path / "pair.npy"
        np.save(path, pair, allow_pickle=True)
    else:
        path = tmp_path / "pair.npz"
        np.savez(path, **pair)
    nd, qd = read_paired_ct(path)
    assert nd.unit == qd.unit == "HU" and nd.modality == "CT"
    np.testing.assert_array_equal(nd.array[0, 0], pair["f_nd"])
    np.testing.assert_array_equal(qd.array[0, 0], pair["f_qd"])
    assert nd.meta["dose"] == "normal" and qd.meta["dose"] == "quarter"
    # the generic reader picks f_nd from a paired file
    np.testing.assert_array_equal(read_volume(path).array, nd.array)


def test_attenuation_to_hu(tmp_path: Path) -> None:
    mu = np.array([[0.0, MU_WATER_PER_MM, 2 * MU_WATER_PER_MM]], dtype=np.float64)
    np.savez(tmp_path / "mu.npz", f_nd=mu, f_qd=mu * 1.01)
    nd, qd = read_paired_ct(tmp_path / "mu.npz", attenuation=True)
    np.testing.assert_allclose(nd.array[0, 0, 0], [-1000.0, 0.0, 1000.0], atol=1e-3)
    np.testing.assert_allclose(qd.array[0, 0, 0, 1], 10.0, atol=1e-3)
    nd2, _ = read_paired_ct(tmp_path / "mu.npz", attenuation=True, mu_water=0.02)
    assert nd2.array[0, 0, 0, 1] == pytest.approx((MU_WATER_PER_MM - 0.02) * 1000 / 0.02, abs=1e-3)
    assert nd2.meta["mu_water_per_mm"] == 0.02


def test_dfgan_layout_slices_last_in_attenuation(tmp_path: Path) -> None:
    # the DFGAN data: a pickled dict of (H, W, N) arrays of linear attenuation (1/mm)
    h, w, n = 5, 7, 3
    hu = np.arange(h * w * n, dtype=np.float64).reshape(h, w, n) * 10.0 - 500.0
    mu = MU_WATER_PER_MM * (1.0 + hu / 1000.0)
    path = tmp_path / "seed.npy"
    np.save(path, {"f_nd": mu, "f_qd": mu * 1.001}, allow_pickle=True)
    nd, qd = read_paired_ct(path, attenuation=True, slice_axis=2)
    assert nd.shape == qd.shape == (n, h, w)
    for k in range(n):  # slice k of the volume is the file's [:, :, k], in HU
        np.testing.assert_allclose(nd.array[0, k], hu[:, :, k], atol=1e-3)
    assert nd.meta["slice_axis"] == 2
    np.testing.assert_array_equal(
        read_paired_ct(path, attenuation=True, slice_axis=-1)[0].array, nd.array
    )
    wrong, _ = read_paired_ct(path, attenuation=True)  # slices along the first axis instead
    assert wrong.shape == (h, w, n)
    with pytest.raises(InputError, match="slice_axis"):
        read_paired_ct(path, slice_axis=3)


def test_paired_ct_missing_key_and_shape_mismatch(tmp_path: Path) -> None:
    np.savez(tmp_path / "half.npz", f_nd=np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"half\.npz.*f_qd"):
        read_paired_ct(tmp_path / "half.npz")
    np.savez(tmp_path / "odd.npz", f_nd=np.zeros((3, 3)), f_qd=np.zeros((3, 4)))
    with pytest.raises(InputError, match=r"odd\.npz.*differ"):
        read_paired_ct(tmp_path / "odd.npz")


class _Evil:
    def __reduce__(self):  # a pickle that would run code when loaded
        return (Path.touch, (Path("should-not-exist-medsr"),))


def test_pickle_with_foreign_objects_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.npy"
    obj = np.empty((), dtype=object)
    obj[()] = {"f_nd": np.zeros((2, 2)), "f_qd": _Evil()}
    with open(evil, "wb") as f:
        np.lib.format.write_array(f, obj, allow_pickle=True)
    with pytest.raises(InputError, match=r"evil\.npy.*not allowed"):
        read_paired_ct(evil)
    assert not Path("should-not-exist-medsr").exists()
    lst = tmp_path / "list.npy"
    np.save(lst, np.array([np.zeros(2), "x"], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"list\.npy"):
        read_volume(lst)
