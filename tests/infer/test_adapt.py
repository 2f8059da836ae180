"""Per-scan adaptation (``medsr enhance --adapt``): pairs, determinism, early stopping, CLI."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.spec import content_loss_from_config
from medsr.cli.main import main
from medsr.data.intensity import IntensityNorm
from medsr.degrade.kspace import kspace_keep_count, truncate_kspace
from medsr.degrade.resample import downsample_bicubic
from medsr.errors import ConfigError
from medsr.infer.adapt import DEFAULT_LR, AdaptOptions, adapt_model, adapted_predictor
from medsr.infer.adapt_pairs import kspace_pair, make_pairs
from medsr.infer.engines import load_engine
from medsr.volume import Volume

from ._models import MDCSRN_KW, SRRESNET2D_KW, checkpoint, rand

KSPACE = {
    "data": {
        "degradation": {
            "stages": [
                {
                    "name": "kspace_truncate",
                    "kwargs": {"spatial_dims": 3, "factor": [1.0, 2.0, 2.0], "keep_shape": True},
                }
            ]
        }
    }
}
BICUBIC2D = {
    "data": {
        "degradation": {
            "stages": [{"name": "downsample_bicubic", "kwargs": {"spatial_dims": 2, "factor": 2}}]
        }
    }
}
FAST = {"threads": 1, "patch": 16, "val_every": 2}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("adapt")
    ct = {"data": {"degradation": {"stages": [{"name": "lowdose_ct", "kwargs": {"dose": 0.25}}]}}}
    zero_edges = {
        "data": {
            "degradation": {
                "stages": [
                    {"name": "kspace_truncate_zero_edges", "kwargs": {"spatial_dims": 3, "edge_divisor": 4}}
                ]
            }
        }
    }  # fmt: skip
    hu = IntensityNorm(kind="hu-window")
    return {
        "kspace": checkpoint(d / "k.pt", "mdcsrn", MDCSRN_KW, config=KSPACE),
        "sr2d": checkpoint(d / "s.pt", "srresnet", SRRESNET2D_KW, config=BICUBIC2D),
        "ct": checkpoint(d / "ct.pt", "mdcsrn", MDCSRN_KW, modality="CT", norm=hu, config=ct),
        "nofactor": checkpoint(d / "nf.pt", "mdcsrn", MDCSRN_KW, config=zero_edges),
    }


def _kspace_volume(shape: tuple[int, int, int] = (24, 32, 32), seed: int = 0) -> np.ndarray:
    """A positive volume band-limited as the k-space model's inputs are."""
    return truncate_kspace(10 + rand(shape, seed), spatial_dims=3, factor=(1, 2, 2))


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------- pairs
def test_kspace_pair_is_coarse_grid_and_band_limited() -> None:
    # 26 -> 13 -> 7 kept lines: odd bands, so a real positive input stays real and the
    # magnitude is exactly band-limited; every axis goes to the coarse grid (D 20 -> 10), so the
    # coarse voxels keep the input's aspect ratio
    x = 10 + rand((20, 26, 26), seed=1)
    pair = kspace_pair(x[None], factor=(1.0, 2.0, 2.0))
    assert pair.x_hq.shape == pair.x_lq.shape == (1, 10, 13, 13) and pair.scale == (1, 1, 1)
    m2 = kspace_keep_count(13, factor=2.0)
    spec = np.fft.fftn(pair.x_lq[0].astype(np.float64), axes=(1, 2))
    k = np.abs(np.fft.fftfreq(13, 1 / 13))
    outside = (k[:, None] > m2 // 2) | (k[None, :] > m2 // 2)
    assert np.abs(spec[:, outside]).max() < 1e-4  # float32 rounding of values about 10
    spec_hq = np.fft.fftn(pair.x_hq[0].astype(np.float64), axes=(1, 2))
    assert np.abs(spec_hq[:, outside]).max() > 0.1  # the target keeps that band
    # the input's own truncation is not repeated along D: there the pair's two halves agree
    np.testing.assert_allclose(
        np.fft.fft(pair.x_lq[0].astype(np.float64).mean(axis=(1, 2))),
        np.fft.fft(pair.x_hq[0].astype(np.float64).mean(axis=(1, 2))),
        atol=1e-2,
    )


def _zero_pad_reference(coarse: np.ndarray, n: int) -> np.ndarray:
    """numpy reference: the coarse grid zero-padded back to ``n`` samples on every axis (coarse
    sample j sits at fine index (j + 1/2) n / m - 1/2)."""
    m = coarse.shape[0]
    shift = 0.5 * (n / m - 1.0)
    kc = np.rint(np.fft.fftfreq(m, 1 / m)).astype(int)
    ramp = np.exp(-2j * np.pi * kc * shift / n) * (n / m)
    spec = np.fft.fftn(coarse) * ramp[:, None, None] * ramp[None, :, None] * ramp[None, None, :]
    fine = np.zeros((n, n, n), dtype=complex)
    idx = kc % n
    fine[idx[:, None, None], idx[None, :, None], idx[None, None, :]] = spec
    return np.fft.ifftn(fine).real


def test_kspace_pair_target_round_trips_a_band_limited_input() -> None:
    n, m = 26, 13
    x = truncate_kspace(10 + rand((n, n, n), seed=2), spatial_dims=3, factor=(2, 2, 2))
    coarse = kspace_pair(x[None], factor=(1.0, 2.0, 2.0)).x_hq[0].astype(np.float64)
    assert coarse.shape == (m, m, m)
    np.testing.assert_allclose(_zero_pad_reference(coarse, n), x, rtol=0, atol=1e-4)
    # and analytically: a cosine inside the band is sampled at the coarse positions
    w = np.arange(n)
    cos = 10 + np.cos(2 * np.pi * 3 * w / n + 0.4)
    got = kspace_pair(np.broadcast_to(cos, (1, n, n, n)), factor=(1.0, 1.0, 2.0)).x_hq[0, 0, 0]
    pos = (np.arange(m) + 0.5) * n / m - 0.5
    np.testing.assert_allclose(got, 10 + np.cos(2 * np.pi * 3 * pos / n + 0.4), atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1])
def test_sr_pair_input_is_the_models_downsampling(ckpts: dict[str, Path], axis: int) -> None:
    _, spec = load_engine(ckpts["sr2d"])
    x = rand((5, 21, 19), seed=3)
    pair = make_pairs(Volume.from_array(x), spec=spec, rng=np.random.default_rng(0), axis=axis)
    hq = x[:4, :, :18] if axis == 1 else x[:, :20, :18]
    np.testing.assert_array_equal(pair.x_hq[0], hq)
    moved = np.moveaxis(hq, axis, 0)
    want = np.moveaxis(downsample_bicubic(moved, spatial_dims=2, factor=2), 0, axis)
    np.testing.assert_allclose(pair.x_lq[0], want, rtol=0, atol=1e-6)
    assert pair.kind == "degradation" and pair.scale == ((1, 2, 2) if axis == 0 else (2, 1, 2))


# ---------------------------------------------------------------------------- training
def test_adaptation_is_deterministic_and_leaves_the_model_alone(ckpts: dict[str, Path]) -> None:
    before = _digest(ckpts["kspace"])
    net, spec = load_engine(ckpts["kspace"])
    original = _state(net)
    vol = Volume.from_array(_kspace_volume())
    runs = [
        adapt_model(net, spec, vol, AdaptOptions(steps=4, seed=s, **FAST))  # type: ignore[arg-type]
        for s in (0, 0, 1)
    ]
    (a, ra), (b, _), (c, _) = runs
    assert ra.steps_run == 4 and ra.best_step > 0 and ra.val_loss_best < ra.val_loss_start
    assert _same(_state(a), _state(b)) and not _same(_state(a), _state(c))
    assert not _same(_state(a), original) and _same(_state(net), original)
    assert _digest(ckpts["kspace"]) == before
    # the kept weights are those of the best step: a run stopped there has the same weights
    short, _ = adapt_model(net, spec, vol, AdaptOptions(steps=ra.best_step, seed=0, **FAST))  # type: ignore[arg-type]
    assert _same(_state(short), _state(a))


def test_mse_adaptation_measures_and_trains_in_squared_error(ckpts: dict[str, Path]) -> None:
    net, spec = load_engine(ckpts["kspace"])
    vol = Volume.from_array(_kspace_volume())
    l1, r1 = adapt_model(net, spec, vol, AdaptOptions(steps=4, seed=0, loss="l1", **FAST))  # type: ignore[arg-type]
    l2, r2 = adapt_model(net, spec, vol, AdaptOptions(steps=4, seed=0, loss="mse", **FAST))  # type: ignore[arg-type]
    assert r1.options["loss"] == "l1" and r2.options["loss"] == "mse"
    # same draws and starting weights: the validation losses are the L1 and the MSE of one error
    # (the network units are well below 1, so the squared error is the smaller one)
    assert r2.val_loss_start is not None and r1.val_loss_start is not None
    assert 0 < r2.val_loss_start < r1.val_loss_start
    assert r2.val_loss_start >= r1.val_loss_start**2 * (1 - 1e-6)  # E[e^2] >= E[|e|]^2
    assert not _same(_state(l1), _state(l2))
    with pytest.raises(ConfigError, match="loss"):
        AdaptOptions(steps=1, loss="huber")


def test_auto_loss_is_the_models_own_content_term(ckpts: dict[str, Path]) -> None:
    terms = {
        "pixel": {"name": "mse", "weight": 1.0},
        "feature": {"name": "l1", "weight": 5.0, "space": "feature"},  # not an image term
        "tv": {"name": "tv", "weight": 9.0},
    }
    assert content_loss_from_config({"losses": {"terms": terms}}) == "mse"
    terms["more"] = {"name": "l1", "weight": 2.0}  # the heaviest image-space term wins
    assert content_loss_from_config({"losses": {"terms": terms}}) == "l1"
    assert content_loss_from_config({}) is None
    net, spec = load_engine(ckpts["kspace"])
    assert spec.source["content_loss"] is None  # the fixture records no losses: L1
    vol = Volume.from_array(_kspace_volume())
    _, report = adapt_model(net, spec, vol, AdaptOptions(steps=1, seed=0, **FAST))  # type: ignore[arg-type]
    assert report.options["loss"] == "l1"
    mse_spec = replace(spec, source={**spec.source, "content_loss": "mse"})
    _, report = adapt_model(net, mse_spec, vol, AdaptOptions(steps=1, seed=0, **FAST))  # type: ignore[arg-type]
    assert report.options["loss"] == "mse"


def test_early_stopping_never_worsens_validation(ckpts: dict[str, Path]) -> None:
    net, spec = load_engine(ckpts["kspace"])
    vol = Volume.from_array(_kspace_volume())
    opts = AdaptOptions(steps=30, lr=10.0, patience=2, threads=1, patch=16, val_every=1)
    adapted, report = adapt_model(net, spec, vol, opts)
    assert report.best_step == 0 and not report.improved
    assert report.stop_reason in ("patience", "non-finite loss") and report.steps_run < 30
    assert report.val_loss_best == report.val_loss_start
    assert _same(_state(adapted), _state(net))


def test_adapted_predictor_one_call(ckpts: dict[str, Path]) -> None:
    vol = Volume.from_array(rand((6, 24, 22), seed=4))
    opts = AdaptOptions(steps=2, threads=1, patch=8, val_every=1)
    predictor, report = adapted_predictor(ckpts["sr2d"], vol, opts, window=16)
    assert report.steps_run == 2 and report.pair["kind"] == "degradation"
    assert predictor(vol).shape == (6, 48, 44)
    # no lr given: the 2D default, recorded; a given lr is kept
    assert report.options["lr"] == DEFAULT_LR[2]
    _, given = adapted_predictor(ckpts["sr2d"], vol, AdaptOptions(**{**vars(opts), "lr": 7e-5}))
    assert given.options["lr"] == 7e-5


# ---------------------------------------------------------------------------- CLI
def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("medsr: error:")
    return err


def _run(inp: Path, model: Path, out: Path, *extra: str) -> int:
    return main(["enhance", str(inp), "--model", str(model), "-o", str(out), *extra])


def test_cli_adapt_zero_is_no_adaptation(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    np.save(tmp_path / "in.npy", _kspace_volume((8, 20, 20)))
    assert _run(tmp_path / "in.npy", ckpts["kspace"], tmp_path / "a.npy") == 0
    assert _run(tmp_path / "in.npy", ckpts["kspace"], tmp_path / "b.npy", "--adapt", "0") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert "adaptation" not in json.loads((tmp_path / "b.json").read_text())


def test_cli_adapt_records_and_saves_a_loadable_checkpoint(
    tmp_path: Path, ckpts: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inp = tmp_path / "in.npy"
    np.save(inp, _kspace_volume((24, 32, 32), seed=5))
    before = _digest(ckpts["kspace"])
    saved = tmp_path / "adapted.pt"
    args = ["--adapt", "3", "--threads", "1", "--seed", "3", "--adapt-lr", "2e-4"]
    assert _run(inp, ckpts["kspace"], tmp_path / "o.npy", *args, "--save-adapted", str(saved)) == 0
    assert "adapted: 3 steps" in capsys.readouterr().out
    assert _digest(ckpts["kspace"]) == before
    rec = json.loads((tmp_path / "o.json").read_text())["adaptation"]
    assert rec["steps_run"] == 3 and rec["pair"]["kind"] == "kspace"
    assert rec["pair"]["target_shape"] == [12, 16, 16] and rec["input_sha256"] == _digest(inp)
    prov = load_checkpoint(saved).provenance
    assert prov["source_sha256"] == before and prov["input_sha256"] == _digest(inp)
    assert (prov["seed"], prov["lr"], prov["steps_run"]) == (3, 2e-4, 3)
    assert prov["best_step"] == rec["best_step"]
    # the saved weights are the ones that enhanced the scan
    assert _run(inp, saved, tmp_path / "again.npy") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), np.load(tmp_path / "o.npy"))
    assert _run(inp, ckpts["kspace"], tmp_path / "plain.npy") == 0
    assert not np.array_equal(np.load(tmp_path / "plain.npy"), np.load(tmp_path / "o.npy"))


@pytest.mark.parametrize(
    "model,extra,needle",
    [
        ("ct", [], "CT denoiser"),
        ("nofactor", [], "no truncation factor"),
        ("kspace", ["--engine", "onnxruntime"], "--engine torch"),
        ("kspace", ["--adapt", "0", "--save-adapted", "x.pt"], "needs --adapt"),
    ],
    ids=["ct", "kspace-no-factor", "onnx", "save-without-adapt"],
)
def test_cli_adapt_refusals(
    tmp_path: Path,
    ckpts: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    model: str,
    extra: list[str],
    needle: str,
) -> None:
    np.save(tmp_path / "in.npy", _kspace_volume((8, 20, 20)))
    args: list[Any] = ["--adapt", "2", "--threads", "1", *extra]
    assert _run(tmp_path / "in.npy", ckpts[model], tmp_path / "o.npy", *args) == 2
    assert needle in _err_line(capsys)
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "o.json").exists()
