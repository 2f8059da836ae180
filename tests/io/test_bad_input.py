"""Every bad input gives one InputError that names the file, before anything large is allocated."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr.errors import InputError, MedsrError
from medsr.io import read_volume, write_volume

from .dicom_factory import write_series

EXTS = [".nii", ".nii.gz", ".dcm", ".npy", ".npz", ".png", ".tif", ".h5", ".inv3", ".zip"]


def _raises_naming(path: Path, match: str = "", **kwargs: object) -> InputError:
    with pytest.raises(InputError) as exc:
        read_volume(path, **kwargs)  # type: ignore[arg-type]
    msg = str(exc.value)
    assert path.name in msg and "\n" not in msg
    assert match.lower() in msg.lower(), msg
    return exc.value


@pytest.mark.parametrize("ext", EXTS)
def test_missing_empty_and_non_image_files(tmp_path: Path, ext: str) -> None:
    _raises_naming(tmp_path / f"missing{ext}", "no such")
    (tmp_path / f"empty{ext}").write_bytes(b"")
    _raises_naming(tmp_path / f"empty{ext}", "empty")
    (tmp_path / f"text{ext}").write_text("this is not an image\n" * 40)
    _raises_naming(tmp_path / f"text{ext}")


def _nifti_bytes(shape: tuple[int, ...], payload: bytes = b"") -> bytes:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.float32)
    hdr["vox_offset"] = 352
    hdr.set_sform(np.eye(4), code=1)
    return hdr.binaryblock + b"\0" * 4 + payload


def test_truncated_gzip(tmp_path: Path) -> None:
    full = tmp_path / "full.nii.gz"
    nib.save(
        nib.Nifti1Image(
            np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4)
        ),
        full,
    )
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    _raises_naming(cut, "truncated")


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_enormous_header_is_refused_without_allocating(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"huge{ext}"
    blob = _nifti_bytes((30000, 30000, 30000), b"\0" * 64)
    path.write_bytes(gzip.compress(blob) if ext == ".nii.gz" else blob)
    tracemalloc.start()
    try:
        _raises_naming(path, "voxels")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"reader allocated {peak} bytes for a refused header"


def test_size_above_available_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.nii"
    path.write_bytes(_nifti_bytes((64, 64, 64), b"\0" * (64**3 * 4)))
    monkeypatch.setattr("medsr.io._common.available_memory", lambda: 2**19)
    _raises_naming(path, "memory")


def test_uncompressed_nifti_shorter_than_header_claims(tmp_path: Path) -> None:
    path = tmp_path / "short.nii"
    path.write_bytes(_nifti_bytes((64, 64, 64), b"\0" * 1000))
    _raises_naming(path, "truncated")


def test_zero_size_axes(tmp_path: Path) -> None:
    path = tmp_path / "zero.nii"
    path.write_bytes(_nifti_bytes((0, 4, 4)))
    _raises_naming(path, "zero-size")
    np.save(tmp_path / "zero.npy", np.zeros((0, 4), dtype=np.float32))
    _raises_naming(tmp_path / "zero.npy", "zero-size")


def test_real_4d_where_3d_expected(tmp_path: Path) -> None:
    nib.save(
        nib.Nifti1Image(np.zeros((4, 5, 6, 3), dtype=np.float32), np.eye(4)), tmp_path / "t.nii.gz"
    )
    _raises_naming(tmp_path / "t.nii.gz", "4D")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_voxels(tmp_path: Path, bad: float) -> None:
    data = np.ones((4, 4, 4), dtype=np.float32)
    data[1, 2, 3] = bad
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nf.nii.gz")
    np.save(tmp_path / "nf.npy", data)
    _raises_naming(tmp_path / "nf.nii.gz", "1 NaN/Inf")
    _raises_naming(tmp_path / "nf.npy", "replace them with finite values")
    vol = read_volume(tmp_path / "nf.nii.gz", allow_nonfinite=True)
    assert np.count_nonzero(~np.isfinite(vol.array)) == 1


def test_unknown_extension_lists_formats(tmp_path: Path) -> None:
    (tmp_path / "scan.xyz").write_text("x")
    err = _raises_naming(tmp_path / "scan.xyz", "unsupported")
    for ext in (".nii.gz", ".dcm", ".npy", ".png", ".h5"):
        assert ext in err.problem


def _series(
    folder: Path, uid: str, *, iop=(1, 0, 0, 0, 1, 0), shape=(3, 4, 5), z0=0.0, seed=0
) -> None:
    stored = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    write_series(
        folder, stored, ipp0=[0, 0, z0], iop=list(iop), pixel_spacing=(1, 1),
        step=np.cross(iop[:3], iop[3:]) * 2.0, series_uid=uid, rng=np.random.default_rng(seed),
    )  # fmt: skip


def test_dicom_folder_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _raises_naming(tmp_path / "empty", "no DICOM")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    _raises_naming(tmp_path / "junk", "no DICOM")
    mixed = tmp_path / "mixed"
    _series(mixed / "a", "1.1")
    _series(mixed / "b", "1.2", z0=100.0, seed=1)
    _series(mixed / "c", "1.3", z0=200.0, seed=2)
    for sub in ("a", "b", "c"):
        for f in (mixed / sub).iterdir():
            f.rename(mixed / f"{sub}_{f.name}")
    _raises_naming(mixed, "3 series found; pass one series folder")


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ({"iop": (0, 1, 0, 0, 0, -1)}, "orientation"),
        ({"shape": (3, 4, 6)}, "size"),
        ({"z0": 0.0}, "share a position"),
        ({}, "uneven slice spacing"),
    ],
)
def test_inconsistent_slices_in_one_series(tmp_path: Path, second: dict, problem: str) -> None:
    folder = tmp_path / "s"
    _series(folder / "a", "7.7")
    kwargs = {"z0": 50.0, **second}
    _series(folder / "b", "7.7", seed=1, **kwargs)  # type: ignore[arg-type]
    for sub in ("a", "b"):
        for f in (folder / sub).iterdir():
            f.rename(folder / f"{sub}_{f.name}")
    _raises_naming(folder, problem)


def test_writer_refuses_overwrite_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsr.data import Volume

    vol = Volume.from_array(np.ones((3, 4, 5), dtype=np.float32))
    out = write_volume(vol, tmp_path / "v.nii.gz")
    before = out.read_bytes()
    with pytest.raises(MedsrError, match="already exists"):
        write_volume(vol, out)
    assert out.read_bytes() == before

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"partial")  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr("medsr.io.nifti.write_nifti", boom)
    with pytest.raises(RuntimeError):
        write_volume(vol, tmp_path / "w.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.nii.gz"]
    with pytest.raises(InputError, match=r"v\.mha"):
        write_volume(vol, tmp_path / "v.mha")
