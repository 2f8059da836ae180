"""DICOM: synthetic series (order, HU, affine), zipped series, real pydicom CT files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from medsr.io import read_volume
from medsr.io.dicom_zip import read_dicom_zip

from .dicom_factory import write_series

SLOPE, INTERCEPT = 2.0, -1024.0
SPACING = (0.7, 0.9)  # (row, column) mm


def _rotation(ax: float, az: float) -> np.ndarray:
    ca, sa, cz, sz = np.cos(ax), np.sin(ax), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx


def _coded_stack(n: int, rows: int, cols: int) -> np.ndarray:
    k, r, c = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (k * 900 + r * 30 + c).astype(np.int16)


@pytest.mark.parametrize("angles", [(0.0, 0.0), (0.35, 0.2)], ids=["axial", "oblique"])
def test_series_order_hu_and_affine(tmp_path: Path, angles: tuple[float, float]) -> None:
    rng = np.random.default_rng(1)
    rot = _rotation(*angles)
    u, v = rot[:, 0], rot[:, 1]
    normal = np.cross(u, v)
    stored = _coded_stack(5, 7, 9)
    ipp0 = np.array([-30.0, 12.5, 40.0])
    write_series(
        tmp_path / "series", stored, ipp0=ipp0, iop=[*u, *v], pixel_spacing=SPACING,
        step=normal * 2.5, series_uid="1.2.3.4", rng=rng, slope=SLOPE, intercept=INTERCEPT,
    )  # fmt: skip
    vol = read_volume(tmp_path / "series")
    assert vol.modality == "CT" and vol.unit == "HU"
    assert sorted(vol.shape) == [5, 7, 9]
    hu = vol.array[0]
    code = np.rint((hu - INTERCEPT) / SLOPE).astype(int)
    # every stored value comes back exactly once, so rescaling and stacking lost nothing
    np.testing.assert_array_equal(np.sort(code.ravel()), np.sort(stored.ravel().astype(int)))
    k, r, c = code // 900, (code % 900) // 30, code % 30
    lps = (
        ipp0
        + k[..., None] * 2.5 * normal
        + c[..., None] * SPACING[1] * u
        + r[..., None] * SPACING[0] * v
    )
    expected_ras = lps * np.array([-1.0, -1.0, 1.0])
    d, h, w = np.meshgrid(*(np.arange(n) for n in vol.shape), indexing="ij")
    idx = np.stack([d, h, w, np.ones_like(d)], axis=-1).astype(float)
    world = idx @ vol.affine.T
    np.testing.assert_allclose(world[..., :3], expected_ras, atol=1e-4)
    assert sorted(np.round(vol.spacing, 5)) == sorted([2.5, *SPACING])


def test_series_axial_is_canonical_ras(tmp_path: Path) -> None:
    write_series(
        tmp_path / "s", _coded_stack(4, 6, 8), ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0],
        pixel_spacing=SPACING, step=[0, 0, 3.0], series_uid="1.2.3", rng=np.random.default_rng(2),
    )  # fmt: skip
    vol = read_volume(tmp_path / "s")
    assert vol.shape == (4, 6, 8)
    # D towards superior, H towards anterior (DICOM rows run posterior), W towards right
    assert vol.affine[2, 0] == pytest.approx(3.0)
    assert vol.affine[1, 1] == pytest.approx(SPACING[0])
    assert vol.affine[0, 2] == pytest.approx(SPACING[1])
    assert vol.meta["reader"] == "dicom_series" and vol.meta["n_slices"] == 4


def test_zipped_series_matches_folder(tmp_path: Path) -> None:
    paths = write_series(
        tmp_path / "s", _coded_stack(3, 5, 6), ipp0=[1, 2, 3], iop=[1, 0, 0, 0, 0, -1],
        pixel_spacing=SPACING, step=[0, 4.0, 0], series_uid="9.8", rng=np.random.default_rng(3),
    )  # fmt: skip
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in paths:
            zf.write(p, arcname=f"inner/{p.name}")
        zf.writestr("inner/README.txt", "not dicom")
    a, b = read_volume(tmp_path / "s"), read_dicom_zip(archive)
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.affine, b.affine)


def _testdata(package: str, relative: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return Path(spec.submodule_search_locations[0]) / relative


@pytest.mark.parametrize(
    ("package", "relative", "shape"),
    [
        ("pydicom", "data/test_files/CT_small.dcm", (1, 128, 128)),
        ("data_store", "data/693_UNCI.dcm", (1, 512, 512)),
        ("pydicom", "data/test_files/J2K_pixelrep_mismatch.dcm", (1, 512, 512)),
    ],
)
def test_real_ct_files_are_plausible_hu(package: str, relative: str, shape: tuple) -> None:
    vol = read_volume(_testdata(package, relative))
    assert vol.shape == shape
    assert vol.modality == "CT" and vol.unit == "HU"
    a = vol.array
    assert a.min() >= -4096 and a.max() <= 4096
    body = a[a > -500]
    assert -50 < float(np.median(body)) < 100  # soft tissue
    assert np.mean(np.abs(body) < 100) > 0.4


def test_real_j2k_is_compressed_and_decoded() -> None:
    vol = read_volume(_testdata("pydicom", "data/test_files/J2K_pixelrep_mismatch.dcm"))
    assert "JPEG 2000" in vol.meta["transfer_syntax"]
    # a decoder ignoring the signed pixel representation would put air near +63000
    assert vol.array.max() < 4000 and vol.array.min() < -900
    assert vol.spacing[0] == pytest.approx(5.0, abs=1e-3)


def test_xray_modality_and_monochrome1() -> None:
    vol = read_volume(_testdata("data_store", "data/RG3_UNCI.dcm"))
    assert vol.modality == "XR" and vol.unit == "a.u."
    assert "note_monochrome1" in vol.meta and "note_spacing" in vol.meta
    assert vol.array.min() >= 0 and vol.array.max() <= 1023


def test_file_without_preamble_reads_like_the_original(tmp_path: Path) -> None:
    src = _testdata("pydicom", "data/test_files/CT_small.dcm")
    raw = src.read_bytes()
    assert raw[128:132] == b"DICM"
    bare = tmp_path / "bare"  # no extension: tried as DICOM
    bare.write_bytes(raw[132:])
    np.testing.assert_array_equal(read_volume(bare).array, read_volume(src).array)
