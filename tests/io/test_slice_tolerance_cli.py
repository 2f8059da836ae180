"""``--slice-tolerance MM`` on ``degrade``, ``evaluate`` and ``enhance`` reaches the DICOM reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.data.intensity import IntensityNorm
from medsr.io import read_volume
from tests.infer._models import SRRESNET3D_KW, checkpoint

from .dicom_factory import write_series


@pytest.fixture
def uneven(tmp_path: Path) -> Path:
    """Twelve 4 mm slices written to 1e-6 mm, the first one 0.4 mm out of place."""
    import pydicom

    stored = (np.arange(12 * 16 * 16).reshape(12, 16, 16) % 50).astype(np.int16)
    paths = write_series(
        tmp_path / "s", stored, ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0], pixel_spacing=(1, 1),
        step=[0, 0, 4.0], series_uid="3.3", rng=np.random.default_rng(0), first_instance=1,
    )  # fmt: skip
    first = min(paths, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    ds = pydicom.dcmread(first)
    ipp = np.asarray(ds.ImagePositionPatient, dtype=float) - np.array([0.0, 0.0, 0.4])
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.save_as(first)
    return tmp_path / "s"


def _refused(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "uneven slice spacing" in err
    return err


def test_degrade(uneven: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["degrade", str(uneven), "-o", str(tmp_path / "o.nii.gz"), "--kind", "gaussian"]
    assert main([*base, "--sigma", "1"]) == 2
    assert "--slice-tolerance 0.37 " in _refused(capsys)  # 4.4 mm vs the 4.036 mm mean
    assert main([*base, "--sigma", "1", "--slice-tolerance", "0.5"]) == 0
    assert read_volume(tmp_path / "o.nii.gz").shape[0] == 12


def test_evaluate(uneven: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["evaluate", str(uneven), "--ref", str(uneven), "--protocol", "ct-window"]
    assert main(base) == 2
    _refused(capsys)
    assert main([*base, "--slice-tolerance", "0.5"]) == 0
    assert "psnr" in capsys.readouterr().out.lower()


def test_enhance(uneven: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = checkpoint(
        tmp_path / "ct.pt", "srresnet", SRRESNET3D_KW, modality="CT",
        norm=IntensityNorm(kind="hu-window"),
    )  # fmt: skip
    base = ["enhance", str(uneven), "--model", str(ckpt), "-o", str(tmp_path / "sr.nii.gz")]
    assert main(base) == 2
    _refused(capsys)
    assert main([*base, "--slice-tolerance", "0.5"]) == 0
    assert read_volume(tmp_path / "sr.nii.gz").shape[0] == 12


def test_baseline(uneven: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["baseline", "cubic", str(uneven), "-o", str(tmp_path / "b.nii.gz"), "--scale", "1"]
    assert main(base) == 2
    assert "--slice-tolerance 0.37 " in _refused(capsys)  # an option this command takes
    assert main([*base, "--slice-tolerance", "0.5"]) == 0
    assert read_volume(tmp_path / "b.nii.gz").shape == (12, 16, 16)


@pytest.mark.filterwarnings("ignore:input modality CT differs")  # --force: a CT series, MR model
def test_augment(uneven: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["augment", str(uneven), "--model", "disgan-t1-x2", "--no-simulate", "--force"]
    assert main([*base, "-o", str(tmp_path / "refused")]) == 2
    _refused(capsys)
    assert not (tmp_path / "refused").exists()
    assert main([*base, "-o", str(tmp_path / "set"), "--slice-tolerance", "0.5"]) == 0
    assert read_volume(tmp_path / "set" / "images" / "s_sr.nii.gz").shape == (24, 32, 32)
