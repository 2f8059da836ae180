"""``medsr degrade --like MODEL`` reproduces a bundled model's training degradation; defaults agree
with the shipped models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.degrade import DegradationPipeline
from medsr.degrade.recorded import kinds_of_stages
from medsr.errors import ConfigError
from medsr.io import read_volume, write_volume
from medsr.volume import Volume


def _canonical(arr: np.ndarray, spacing: tuple[float, float, float], **kw) -> Volume:
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = (*spacing, 1.0)
    return Volume(array=arr[None], spacing=spacing, affine=affine, **kw)


def _recorded(model: str) -> dict:
    from medsr.artifact.checkpoint import load_checkpoint
    from medsr.artifact.zoo import bundled_path

    return load_checkpoint(bundled_path(model)).config["data"]["degradation"]


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    r = np.hypot(*(np.mgrid[:32, :32] - 15.5))
    hu = np.where(r < 13, 40.0, -1000.0)[None].repeat(2, axis=0).astype(np.float32)
    hu[1, 10:14, 10:20] = 700.0
    vol = _canonical(hu, (2.0, 0.5, 0.5), modality="CT", unit="HU")
    return write_volume(vol, tmp_path / "ct.nii.gz")


@pytest.fixture
def mr(tmp_path: Path) -> Path:
    arr = np.random.default_rng(0).random((3, 16, 20)).astype(np.float32) * 100.0
    return write_volume(_canonical(arr, (1.2, 1.0, 1.0)), tmp_path / "mr.nii.gz")


def _training_degradation(model: str, array: np.ndarray, seed: int, **extra) -> np.ndarray:
    stages = [(s["name"], {**s["kwargs"], **extra}) for s in _recorded(model)["stages"]]
    return np.asarray(DegradationPipeline(stages)(array, rng=np.random.default_rng(seed)))


def test_like_dfgan_reproduces_its_training_degradation(ct: Path, tmp_path: Path) -> None:
    out = tmp_path / "qd.nii.gz"
    assert main(["degrade", str(ct), "-o", str(out), "--like", "dfgan-ct-qd", "--seed", "3"]) == 0
    src = read_volume(ct, modality="CT").array[0]
    expected = _training_degradation("dfgan-ct-qd", src, 3, pixel_size=0.5)
    got = read_volume(out, modality="CT").array[0]
    assert np.abs(got - src).std() > 5.0  # noise was added
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
    rec = json.loads((tmp_path / "qd.json").read_text())
    assert rec["kind"] == "lowdose_ct" and rec["like"]["model"] == "dfgan-ct-qd"
    assert rec["parameters"]["views"] == 360 and rec["parameters"]["dose"] == 0.25


def test_default_views_agree_with_the_shipped_ct_model(ct: Path, tmp_path: Path) -> None:
    out = tmp_path / "ld.nii.gz"
    assert main(["degrade", str(ct), "-o", str(out), "--kind", "lowdose_ct"]) == 0
    rec = json.loads((tmp_path / "ld.json").read_text())
    trained = _recorded("dfgan-ct-qd")["stages"][0]["kwargs"]
    for key in ("views", "dose", "i0"):
        assert rec["parameters"][key] == trained[key], key


def test_like_flags_override_the_model_values(ct: Path, tmp_path: Path) -> None:
    out = tmp_path / "hd.nii.gz"
    args = ["degrade", str(ct), "-o", str(out), "--like", "dfgan-ct-qd", "--dose", "0.5"]
    assert main(args) == 0
    params = json.loads((tmp_path / "hd.json").read_text())["parameters"]
    assert params["dose"] == 0.5 and params["views"] == 360


def test_like_srgan_reproduces_bicubic_x2_on_the_slices(mr: Path, tmp_path: Path) -> None:
    out = tmp_path / "lr.nii.gz"
    assert main(["degrade", str(mr), "-o", str(out), "--like", "srgan-t1-x2"]) == 0
    src = read_volume(mr)
    got = read_volume(out)
    assert got.shape == (3, 8, 10)
    expected = _training_degradation("srgan-t1-x2", src.array[0], 0)
    np.testing.assert_allclose(got.array[0], expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got.spacing, (1.2, 2.0, 2.0), atol=1e-5)


def test_like_mdcsrn_reproduces_its_kspace_truncation(mr: Path, tmp_path: Path) -> None:
    out = tmp_path / "k.nii.gz"
    assert main(["degrade", str(mr), "-o", str(out), "--like", "mdcsrn-t1-k2"]) == 0
    src = read_volume(mr)
    got = read_volume(out)
    assert got.shape == src.shape  # same grid (keep_shape)
    expected = _training_degradation("mdcsrn-t1-k2", src.array[0], 0)
    assert np.abs(expected - src.array[0]).max() > 1.0
    np.testing.assert_allclose(got.array[0], expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "one of --kind KIND or --like MODEL"),
        (["--kind", "gaussian_noise", "--sigma", "1", "--like", "dfgan-ct-qd"], "one of --kind"),
        (["--like", "dfgan-ct-qd", "--sigma", "1"], "--sigma does not apply to --kind lowdose_ct"),
        (["--like", "no-such-model"], "no-such-model"),
    ],
)
def test_like_errors_are_one_line(
    ct: Path, tmp_path: Path, capsys, flags: list[str], message: str
) -> None:
    assert main(["degrade", str(ct), "-o", str(tmp_path / "x.nii.gz"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.nii.gz"]


def test_stage_mapping() -> None:
    two_d = {"stages": [{"name": "downsample_bicubic", "kwargs": {"spatial_dims": 2, "factor": 3}}]}
    assert kinds_of_stages(two_d) == [("downsample_bicubic", {"factor": (1, 3, 3)})]
    edges = {
        "stages": [
            {"name": "kspace_truncate_zero_edges", "kwargs": {"spatial_dims": 2, "edge_divisor": 4}}
        ]
    }
    assert kinds_of_stages(edges)[0][1]["edge_divisor"] == (float("inf"), 4, 4)
    with pytest.raises(ConfigError, match="network units"):
        kinds_of_stages({**two_d, "units": "network"})
    with pytest.raises(ConfigError, match="kspace_random_truncate"):
        kinds_of_stages({"stages": [{"name": "kspace_random_truncate", "kwargs": {}}]})
    with pytest.raises(ConfigError, match="magnitude=False"):
        kinds_of_stages(
            {"stages": [{"name": "kspace_truncate", "kwargs": {"factor": 2, "magnitude": False}}]}
        )
    with pytest.raises(ConfigError, match="records no degradation"):
        kinds_of_stages(None)
