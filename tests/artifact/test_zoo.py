"""Bundled models: name resolution, shipping a run (float16 weights + card), `medsr models`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medsr.artifact.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from medsr.artifact.zoo import BUNDLED, ROOT_HINT, bundle_run, bundled_path, resolve_model, thin_log
from medsr.cli.main import main
from medsr.config import load_config
from medsr.data.intensity import IntensityNorm
from medsr.errors import InputError
from medsr.infer.engines import load_engine
from medsr.models.generators import GENERATORS

ROOT = ROOT_HINT

KW = {"spatial_dims": 3, "num_blocks": 2, "num_units": 2, "growth": 4, "residual": True}


def _fake_run(run: Path) -> torch.nn.Module:
    model = GENERATORS.build("mdcsrn", **KW)
    with torch.no_grad():
        model.reconstruction.weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(0))
    ckpt = Checkpoint(
        model_name="mdcsrn", model_kwargs=KW, modality="MR", spatial_dims=3, scale=(1, 1, 1),
        intensity=IntensityNorm(kind="percentile", q=99.5), state_dict=model.state_dict(),
        config={"data": {"train": [{"scan": "colin27"}]}}, train_state={"step": 5},
    )  # fmt: skip
    save_checkpoint(ckpt, run / "model.pt")
    rows = [{"time": 0.1 * i, "step": i, "g_pixel": 1.0 / (i + 1)} for i in range(1, 1001)]
    rows.insert(0, {"time": 0.0, "step": 0, "event": "baseline", "psnr": 20.0})
    rows.append({"time": 99.0, "step": 1000, "event": "validation", "psnr": 21.0})
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {"run_dir": str(run), "model_path": "x", "steps": 1000, "seconds": 99.0}
    (run / "summary.json").write_text(json.dumps(summary))
    return model.eval()


def test_bundle_run_ships_float16_weights_and_a_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    model = _fake_run(run)
    weights, card_path = bundle_run(run, "mdcsrn-t1-k2", out_dir=tmp_path / "w", record={"x": 1})
    ckpt = load_checkpoint(weights)
    assert ckpt.train_state is None
    assert all(v.dtype == torch.float16 for v in ckpt.state_dict.values() if v.is_floating_point())
    card = json.loads(card_path.read_text())
    assert card["x"] == 1 and card["train_summary"] == {"steps": 1000, "seconds": 99.0}
    assert str(tmp_path) not in card_path.read_text()  # no machine-local paths shipped
    events = [r for r in card["log"] if "event" in r]
    assert [e["event"] for e in events] == ["baseline", "validation"]
    assert len(card["log"]) <= 402
    # loadable by name from the weights folder; float16 storage changes outputs only slightly
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(tmp_path / "w"))
    assert resolve_model("mdcsrn-t1-k2") == weights
    net, spec = load_engine("mdcsrn-t1-k2")
    x = torch.rand(1, 1, 8, 9, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (net(x) - model(x)).abs().max().item()
    assert 0 < diff < 2e-3
    assert spec.name == "mdcsrn"


def test_bundle_kwargs_are_set_on_the_shipped_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from medsr.artifact import zoo

    kw = {"features": [4, 8, 16]}
    net = GENERATORS.build("dfgan_unet", **kw)
    ckpt = Checkpoint(
        model_name="dfgan_unet", model_kwargs=kw, modality="CT", spatial_dims=2,
        scale=(1, 1, 1), intensity=IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0),
        state_dict=net.state_dict(), config={"data": {"train": [{"scan": "invesalius_head"}]}},
    )  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(ckpt, run / "best.pt")
    (run / "log.jsonl").write_text(json.dumps({"time": 1.0, "step": 1, "g_total": 0.5}) + "\n")
    entry = dataclasses.replace(BUNDLED["dfgan-ct-qd"], bundle_kwargs={"keep_low_band": 1.5})
    monkeypatch.setitem(zoo.BUNDLED, "dfgan-ct-qd", entry)
    weights, card_path = bundle_run(run, "dfgan-ct-qd", out_dir=tmp_path / "w")
    shipped = load_checkpoint(weights)
    assert shipped.model_kwargs == {**kw, "keep_low_band": 1.5}
    assert json.loads(card_path.read_text())["bundle_kwargs"] == {"keep_low_band": 1.5}
    model = shipped.build_model()
    assert model.low_band is not None and model.low_band.sigma == 1.5
    # an option that would need weights the run does not have is refused
    bad = dataclasses.replace(entry, bundle_kwargs={"attention": True})
    monkeypatch.setitem(zoo.BUNDLED, "dfgan-ct-qd", bad)
    with pytest.raises(InputError, match="do not fit"):
        bundle_run(run, "dfgan-ct-qd", out_dir=tmp_path / "w2")


def test_thin_log_averages_step_rows() -> None:
    rows = [{"step": i, "time": float(i), "g_total": float(i)} for i in range(1, 11)]
    thin = thin_log(rows, max_steps=5)
    assert [r["step"] for r in thin] == [2, 4, 6, 8, 10]
    assert [r["g_total"] for r in thin] == [1.5, 3.5, 5.5, 7.5, 9.5]


def test_missing_bundled_weights_name_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(InputError, match=r"scripts/train_bundled\.py mdcsrn-t1-k2"):
        bundled_path("mdcsrn-t1-k2")
    with pytest.raises(InputError, match="not a bundled model"):
        bundled_path("nope")
    assert resolve_model(tmp_path / "a.pt") == tmp_path / "a.pt"  # paths pass through


def test_models_cli_lists_every_bundled_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(BUNDLED)
    assert all(r["card"].startswith("docs/models/") for r in rows)
    systems = {"mdcsrn-wgan-gp", "mdcsrn-wgan", "dfgan", "attn-dfgan", "srrescycgan", "disgan",
               "threeplayer-gan", "srgan", "esrgan"}  # fmt: skip
    by_name = {r["name"]: r for r in rows}
    for r in rows:
        assert r["system"] in systems and r["stage"] in ("psnr", "gan")
        assert r["recipe"].startswith("configs/bundled/") and (ROOT / r["recipe"]).is_file()
        recipe = load_config(ROOT / r["recipe"])
        assert recipe.networks["generator"].name == r["generator"]
        assert (recipe.train.recipe == "supervised") == (r["stage"] == "psnr")
        if r["psnr_model"]:  # a GAN stage names its content-loss partner, which it starts from
            partner = by_name[r["psnr_model"]]
            assert r["stage"] == "gan" and partner["stage"] == "psnr"
            assert partner["generator"] == r["generator"]
            # a comparison baseline (the clipping WGAN) shares another system's L1 stage, and
            # the 3-player GAN starts from DISGAN's (same generator, same authors)
            shared = r["comparison"] or (r["system"], partner["system"]) == (
                "threeplayer-gan",
                "disgan",
            )
            assert partner["system"] == r["system"] or shared
            assert recipe.train.init_generator == r["psnr_model"]
    assert {r["stage"] for r in rows if r["task"] in ("sr3d", "sr2d")} == {"psnr", "gan"}


@pytest.mark.slow
def test_shipped_weights_are_small_and_trained_only_on_training_scans() -> None:
    from medsr.artifact.zoo import ROOT_HINT, read_card, weights_dir
    from medsr.config import load_config

    total = 0
    for name, model in BUNDLED.items():
        path = bundled_path(name)
        size = path.stat().st_size
        total += size
        # the largest is dfgan-ct-qd at the public code's widths (7.76 M float16 parameters)
        assert size < 16 * 2**20, f"{name}: {size / 2**20:.1f} MB"
        ckpt = load_checkpoint(path)
        card = read_card(name)
        # the card, the shipped checkpoint and the recipe in the repository tell the same story
        assert card["recipe"] == model.config
        recipe = load_config(ROOT_HINT / model.config)
        trained = {item.scan for item in recipe.data.train}
        assert set(card["train_scans"]) == trained
        assert {d["scan"] for d in ckpt.config["data"]["train"]} == trained
        held_out = {"pycortex_s1", "pydicom_ct_693", "pydicom_ct_vr_un"}
        assert not trained & held_out, f"{name} trained on a held-out scan"
        # a run may stop before its planned schedule ends (resumed in a later session)
        assert 0 < card["train_summary"]["steps"] <= recipe.train.steps
        assert ckpt.modality == model.modality
        # the shipped generator is the recipe's plus the weight-free options set at bundling
        want = {**recipe.networks["generator"].kwargs, **model.bundle_kwargs}
        assert ckpt.model_kwargs == want, name
        assert card.get("bundle_kwargs", {}) == dict(model.bundle_kwargs)
    assert total < 60 * 2**20  # the budget for all bundled weights together
    assert weights_dir().name == "weights"


def test_enhance_by_bundled_name(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from medsr.io import read_volume

    src = tmp_path / "slice.png"
    y, x = np.mgrid[0:40, 0:48]
    Image.fromarray((128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.uint8)).save(src)
    out = tmp_path / "slice_x2.png"
    assert main(["enhance", str(src), "--model", "srgan-t1-x2", "-o", str(out), "--force"]) == 0
    assert read_volume(out).shape == (1, 80, 96)
    meta = json.loads((tmp_path / "slice_x2.json").read_text())
    assert meta["model"]["name"] == "srresnet"
