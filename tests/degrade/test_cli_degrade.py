"""``medsr degrade``: every kind end to end on small NIfTI files, the JSON record, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.geometry import fov_corners
from medsr.io import read_volume, write_volume
from medsr.volume import Volume


def _canonical(arr: np.ndarray, spacing: tuple[float, float, float], **kw) -> Volume:
    """A volume already in the reader's canonical order: D superior (z), H anterior (y), W right (x)."""
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = (*spacing, 1.0)
    affine[:3, 3] = (-7.0, 3.0, 11.5)
    return Volume(array=arr[None], spacing=spacing, affine=affine, **kw)


@pytest.fixture
def mr(tmp_path: Path) -> Path:
    arr = np.random.default_rng(0).random((6, 16, 15)).astype(np.float32)
    return write_volume(_canonical(arr, (1.5, 1.0, 1.0)), tmp_path / "mr.nii.gz")


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    r = np.hypot(*(np.mgrid[:24, :24] - 11.5))
    hu = np.where(r < 10, 40.0, -1000.0)[None].repeat(2, axis=0).astype(np.float32)
    vol = _canonical(hu, (2.0, 0.7, 0.7), modality="CT", unit="HU")
    return write_volume(vol, tmp_path / "ct.nii.gz")


CASES = [
    ("kspace_truncate", ["--factor", "1", "2", "2"], (6, 8, 8)),
    (
        "kspace_truncate_zero_edges",
        ["--edge-divisor", "inf", "2.5", "2.5", "--keep-shape", "--window", "tukey"],
        (6, 16, 15),
    ),
    ("kspace_gaussian", ["--sigma", "0.2"], (6, 16, 15)),
    ("downsample_area", ["--factor", "2", "--remainder", "pad"], (3, 8, 8)),
    ("downsample_bicubic", ["--factor", "2", "--remainder", "pad"], (3, 8, 8)),
    ("decimate", ["--factor", "1", "3", "2", "--offset", "0", "1", "1"], (6, 5, 7)),
    (
        "slice_thickness",
        ["--thickness", "3", "--spacing", "3", "--profile", "boxcar"],
        (3, 16, 15),
    ),
    ("gaussian_noise", ["--sigma", "0.1"], (6, 16, 15)),
    ("rician_noise", ["--sigma", "0.1"], (6, 16, 15)),
    ("poisson_gaussian_noise", ["--gain", "0.01", "--sigma", "0.01"], (6, 16, 15)),
]


@pytest.mark.parametrize(("kind", "flags", "shape"), CASES)
def test_every_kind_writes_volume_and_record(
    mr: Path, tmp_path: Path, kind: str, flags: list[str], shape
) -> None:
    out = tmp_path / "out.nii.gz"
    assert main(["degrade", str(mr), "-o", str(out), "--kind", kind, *flags, "--seed", "4"]) == 0
    src, res = read_volume(mr), read_volume(out)
    assert src.shape == (6, 16, 15) and res.shape == shape
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["kind"] == kind and record["seed"] == 4 and record["input"] == str(mr)
    assert record["output_shape"] == list(shape) and "medsr_version" in record
    np.testing.assert_allclose(record["output_affine_dhw"], res.affine, atol=1e-5)
    if (
        kind != "decimate"
    ):  # the first voxel's outer corner stays put (the whole FOV when divisible)
        np.testing.assert_allclose(
            fov_corners(res.affine, res.shape)[0], fov_corners(src.affine, src.shape)[0], atol=1e-4
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mr.nii.gz", "out.json", "out.nii.gz"]


def test_record_has_resolved_defaults(mr: Path, tmp_path: Path) -> None:
    out = tmp_path / "lr.nii.gz"
    argv = ["degrade", str(mr), "-o", str(out), "--kind", "kspace_truncate", "--factor", "2"]
    assert main(argv) == 0
    params = json.loads((tmp_path / "lr.json").read_text())["parameters"]
    assert params == {
        "factor": 2.0,
        "keep_shape": False,
        "tukey_alpha": 0.5,
        "window": "none",
    }
    res = read_volume(out)
    np.testing.assert_allclose(
        fov_corners(res.affine, res.shape),
        fov_corners(read_volume(mr).affine, (6, 16, 15)),
        atol=1e-4,
    )


def test_lowdose_ct(ct: Path, tmp_path: Path) -> None:
    out = tmp_path / "ld.nii.gz"
    args = [
        "degrade",
        str(ct),
        "-o",
        str(out),
        "--kind",
        "lowdose_ct",
        "--dose",
        "0.25",
        "--i0",
        "1e4",
        "--views",
        "30",
    ]
    assert main(args) == 0
    res, src = read_volume(out, modality="CT"), read_volume(ct, modality="CT")
    np.testing.assert_allclose(res.affine, src.affine, atol=1e-5)
    assert 0 < np.std(res.array - src.array)
    rec = json.loads((tmp_path / "ld.json").read_text())
    assert (
        rec["parameters"]["dose"] == 0.25
        and rec["parameters"]["mode"] == "inject"
        and rec["unit"] == "HU"
    )


def test_seed_controls_the_noise(mr: Path, tmp_path: Path) -> None:
    outs = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        path = tmp_path / f"{name}.nii.gz"
        assert (
            main(
                [
                    "degrade",
                    str(mr),
                    "-o",
                    str(path),
                    "--kind",
                    "gaussian_noise",
                    "--sigma",
                    "0.1",
                    "--seed",
                    seed,
                ]
            )
            == 0
        )
        outs.append(read_volume(path).array)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kind", "gaussian_noise", "--dose", "0.1", "--sigma", "1"], "--dose does not apply"),
        (["--kind", "gaussian_noise"], "needs --sigma"),
        (["--kind", "kspace_truncate", "--factor", "0.5"], ">= 1"),
        (["--kind", "downsample_area", "--factor", "1.5"], "integers"),
        (["--kind", "kspace_truncate", "--factor", "2", "2"], "1 or 3"),
        (["--kind", "slice_thickness", "--thickness", "2", "--spacing", "2"], "integer multiple"),
        (["--kind", "lowdose_ct", "--dose", "0", "--views", "8"], "dose must be"),
    ],
)
def test_bad_arguments_fail_cleanly(
    mr: Path, tmp_path: Path, capsys, flags: list[str], message: str
) -> None:
    out = tmp_path / "bad.nii.gz"
    assert main(["degrade", str(mr), "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mr.nii.gz"]


def test_missing_input_existing_output_and_bad_extension(mr: Path, tmp_path: Path, capsys) -> None:
    assert (
        main(
            [
                "degrade",
                str(tmp_path / "nope.nii.gz"),
                "-o",
                str(tmp_path / "o.nii.gz"),
                "--kind",
                "gaussian_noise",
                "--sigma",
                "1",
            ]
        )
        == 2
    )
    assert "nope.nii.gz" in capsys.readouterr().err
    assert (
        main(
            [
                "degrade",
                str(mr),
                "-o",
                str(tmp_path / "o.txt"),
                "--kind",
                "gaussian_noise",
                "--sigma",
                "1",
            ]
        )
        == 2
    )
    assert "o.txt" in capsys.readouterr().err
    out = tmp_path / "o.nii.gz"
    assert (
        main(["degrade", str(mr), "-o", str(out), "--kind", "gaussian_noise", "--sigma", "1"]) == 0
    )
    before = out.read_bytes()
    assert (
        main(["degrade", str(mr), "-o", str(out), "--kind", "gaussian_noise", "--sigma", "2"]) == 2
    )
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert (
        main(
            [
                "degrade",
                str(mr),
                "-o",
                str(out),
                "--kind",
                "gaussian_noise",
                "--sigma",
                "2",
                "--overwrite",
            ]
        )
        == 0
    )
    assert out.read_bytes() != before
    assert json.loads((tmp_path / "o.json").read_text())["parameters"] == {"sigma": 2.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mr.nii.gz", "o.json", "o.nii.gz"]
