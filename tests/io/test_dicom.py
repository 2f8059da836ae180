"""DICOM: synthetic series (order, HU, affine), zipped series, real pydicom CT files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from medsr.errors import InputError
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


# --- gaps, missing slices and rounded positions (issue 13, items 4 and 12) ---------------------


def _oblique_series(folder: Path, n: int = 20, decimals: int = 1, **kw) -> np.ndarray:
    """A GE-like oblique series: 7 mm steps, positions rounded to ``decimals`` places.

    Returns the slice normal.
    """
    rot = _rotation(0.5, 0.6)
    u, v = rot[:, 0], rot[:, 1]
    normal = np.cross(u, v)
    write_series(
        folder, _coded_stack(n, 4, 5), ipp0=[-117.31, 84.27, -23.93], iop=[*u, *v],
        pixel_spacing=SPACING, step=normal * 7.0, series_uid="1.2.840.9", rng=np.random.default_rng(4),
        ipp_decimals=decimals, **kw,
    )  # fmt: skip
    return normal


def _gaps(folder: Path, normal: np.ndarray) -> np.ndarray:
    import pydicom

    z = sorted(
        float(normal @ np.asarray(pydicom.dcmread(f).ImagePositionPatient, dtype=float))
        for f in folder.iterdir()
    )
    return np.diff(z)


def test_rounded_oblique_series_is_accepted_at_its_mean_spacing(tmp_path: Path) -> None:
    normal = _oblique_series(tmp_path / "s", first_instance=1)
    gaps = _gaps(tmp_path / "s", normal)
    # the rounding makes the gaps uneven beyond the old fixed limit (0.01 + 1 % of the step)
    assert gaps.max() - gaps.min() > 0.01 + 0.01 * gaps.mean()
    vol = read_volume(tmp_path / "s")
    assert vol.meta["n_slices"] == 20 and vol.shape[0] * vol.shape[1] * vol.shape[2] == 20 * 20
    step = np.linalg.norm(vol.affine[:3, :3], axis=0)
    slice_axis = int(np.argmin(np.abs(step - 7.0)))
    assert step[slice_axis] == pytest.approx(gaps.mean(), abs=1e-4)  # the mean spacing
    assert step[slice_axis] == pytest.approx(7.0, abs=0.02)


def test_unrounded_jitter_is_refused_against_the_series_precision(tmp_path: Path) -> None:
    # same jitter, but written with 6 decimals: the positions claim 1e-6 mm precision
    rot = _rotation(0.5, 0.6)
    normal = np.cross(rot[:, 0], rot[:, 1])
    paths = write_series(
        tmp_path / "s", _coded_stack(6, 4, 5), ipp0=[0, 0, 0], iop=[*rot[:, 0], *rot[:, 1]],
        pixel_spacing=SPACING, step=normal * 7.0, series_uid="1.2", rng=np.random.default_rng(5),
        first_instance=1,
    )  # fmt: skip
    import pydicom

    moved = pydicom.dcmread(paths[0])
    ipp = np.asarray(moved.ImagePositionPatient, dtype=float) + 0.3 * normal
    moved.ImagePositionPatient = [f"{x:.6f}" for x in ipp]
    moved.save_as(paths[0])
    with pytest.raises(InputError, match=r"uneven slice spacing .*continuous.*--slice-tolerance"):
        read_volume(tmp_path / "s")
    vol = read_volume(tmp_path / "s", slice_tolerance=0.5)
    assert vol.meta["n_slices"] == 6
    with pytest.raises(InputError, match="slice tolerance"):
        read_volume(tmp_path / "s", slice_tolerance=-1.0)


def test_missing_slice_is_reported_by_its_instance_number(tmp_path: Path) -> None:
    _oblique_series(tmp_path / "s", first_instance=1, drop=(6,))
    with pytest.raises(
        InputError, match=r"missing slice: InstanceNumber 7 \(1[34](\.\d+)? mm gap = 2 x"
    ):
        read_volume(tmp_path / "s")


def test_missing_slice_without_instance_numbers_is_numbered_by_position(tmp_path: Path) -> None:
    _oblique_series(tmp_path / "s", drop=(6, 7))  # random InstanceNumbers
    with pytest.raises(InputError, match=r"missing slice: slice 7, 8 of at least 20 in position"):
        read_volume(tmp_path / "s")


def test_slice_without_pixel_data_is_an_error_naming_the_file(tmp_path: Path) -> None:
    # the case: 3 slices at 5 mm, the middle one without pixel data (was: 2 slices at 10 mm)
    paths = write_series(
        tmp_path / "s", _coded_stack(3, 4, 5), ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0],
        pixel_spacing=SPACING, step=[0, 0, 5.0], series_uid="7.7", rng=np.random.default_rng(6),
        first_instance=1, without_pixels=(1,),
    )  # fmt: skip
    import pydicom

    bad = [p for p in paths if "PixelData" not in pydicom.dcmread(p)]
    assert len(bad) == 1
    with pytest.raises(InputError, match="without pixel data \\(InstanceNumber 2\\)") as info:
        read_volume(tmp_path / "s")
    assert info.value.path == str(bad[0])
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in paths:
            zf.write(p, arcname=f"inner/{p.name}")
    with pytest.raises(InputError, match="without pixel data") as info:
        read_dicom_zip(archive)
    assert info.value.path.endswith(f"s.zip/inner/{bad[0].name}")


def test_a_file_missing_entirely_is_found_from_the_positions(tmp_path: Path) -> None:
    write_series(
        tmp_path / "s", _coded_stack(4, 4, 5), ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0],
        pixel_spacing=SPACING, step=[0, 0, 5.0], series_uid="7.8", rng=np.random.default_rng(7),
        first_instance=1, drop=(2,),
    )  # fmt: skip
    with pytest.raises(InputError, match="missing slice: InstanceNumber 3"):
        read_volume(tmp_path / "s")


def test_instance_number_jump_without_positions_is_a_missing_slice(tmp_path: Path) -> None:
    from .dicom_factory import make_slice

    folder = tmp_path / "s"
    folder.mkdir()
    for k, instance in enumerate((1, 2, 4, 5)):
        ds = make_slice(
            _coded_stack(1, 4, 5)[0] + k, ipp=[0, 0, k], iop=[1, 0, 0, 0, 1, 0],
            pixel_spacing=SPACING, series_uid="5.5", instance=instance,
        )  # fmt: skip
        del ds.ImagePositionPatient
        ds.save_as(folder / f"x{k}.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match=r"missing slice: InstanceNumber 3 .*jumps from 2 to 4"):
        read_volume(folder)
