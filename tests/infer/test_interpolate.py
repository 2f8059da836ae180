"""``--gan-weight``: network interpolation between a GAN model and its PSNR partner."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint, save_checkpoint
from medsr.cli.main import main
from medsr.errors import ConfigError, InputError
from medsr.infer.engines import load_engine
from medsr.infer.interpolate import interpolate_state

from ._models import MDCSRN_KW, checkpoint, rand


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pair")
    psnr = checkpoint(d / "psnr.pt", "mdcsrn", MDCSRN_KW)
    gan = d / "gan.pt"
    ckpt = load_checkpoint(psnr)
    gen = torch.Generator().manual_seed(5)
    ckpt.state_dict = {
        k: v + 0.05 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
        for k, v in ckpt.state_dict.items()
    }
    ckpt.config = {"train": {"init_generator": str(psnr)}}
    save_checkpoint(ckpt, gan)
    return psnr, gan


def _out(path: Path, weight: float | None = None) -> torch.Tensor:
    net, _ = load_engine(path, gan_weight=weight)
    x = torch.from_numpy(rand((1, 1, 8, 9, 10)))
    with torch.no_grad():
        return net.eval()(x)


def test_weights_zero_and_one_are_the_two_models(pair: tuple[Path, Path]) -> None:
    psnr, gan = pair
    torch.testing.assert_close(_out(gan, 0.0), _out(psnr))
    torch.testing.assert_close(_out(gan, 1.0), _out(gan))
    mid = _out(gan, 0.5)
    assert not torch.allclose(mid, _out(psnr)) and not torch.allclose(mid, _out(gan))


def test_interpolated_weights_are_the_linear_blend(pair: tuple[Path, Path]) -> None:
    psnr, gan = pair
    a, b = load_checkpoint(psnr).state_dict, load_checkpoint(gan).state_dict
    net, spec = load_engine(gan, gan_weight=0.25)
    got = net.state_dict()
    for k, v in got.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.75 * a[k] + 0.25 * b[k])
    assert spec.source["gan_weight"] == 0.25 and "psnr.pt" in spec.source["psnr_partner"]


def test_refusals(pair: tuple[Path, Path], tmp_path: Path) -> None:
    psnr, gan = pair
    with pytest.raises(InputError, match="content-loss model"):
        load_engine(psnr, gan_weight=0.5)  # a PSNR model names no partner
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        load_engine(gan, gan_weight=1.5)
    with pytest.raises(ValueError, match="different parameters"):
        interpolate_state({"a": torch.zeros(1)}, {"b": torch.zeros(1)}, 0.5)


def test_cli_gan_weight_and_one_line_error(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    psnr, gan = pair
    src = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(rand((10, 11, 12), lo=0, hi=100), np.eye(4)), src)
    out0, outp = tmp_path / "a0.nii.gz", tmp_path / "p.nii.gz"
    assert (
        main(["enhance", str(src), "--model", str(gan), "--gan-weight", "0", "-o", str(out0)]) == 0
    )
    assert main(["enhance", str(src), "--model", str(psnr), "-o", str(outp)]) == 0
    np.testing.assert_allclose(
        np.asarray(nib.load(out0).dataobj), np.asarray(nib.load(outp).dataobj), rtol=1e-5, atol=1e-4
    )
    capsys.readouterr()
    bad = tmp_path / "bad.nii.gz"
    code = main(["enhance", str(src), "--model", str(psnr), "--gan-weight", "0.5", "-o", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "content-loss model" in err[0]
    assert not bad.exists()
