"""Evaluation protocols: range, mask, crop and clipping as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from medsr.metrics.functional import mae, nrmse, psnr, ssim
from medsr.metrics.masks import foreground_mask
from medsr.metrics.protocols import PROTOCOLS, Protocol, get_protocol

EXPECTED = {"unit-range", "fastmri", "ct-window", "ldct-bench", "brain-mask", "dfgan-original"}


def _ct_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2D CT-like slice in HU: air, soft tissue, a bone disc; pred = ref + noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :40]
    ref = np.full((48, 40), -1000.0)
    ref[(yy - 24) ** 2 + (xx - 20) ** 2 < 18**2] = 40.0
    ref[(yy - 20) ** 2 + (xx - 15) ** 2 < 5**2] = 1200.0
    return ref + 30.0 * rng.standard_normal(ref.shape), ref


def test_registry_holds_the_six_protocols_with_descriptions() -> None:
    # plus the quantitative-CT protocol (tests/metrics/test_tissue.py) and the brain tissue Dice
    # (tests/metrics/test_tissue_dice.py), which are no image metrics
    assert set(PROTOCOLS.names()) == EXPECTED | {"ct-tissue-hu", "tissue-dice"}
    for name in EXPECTED:
        assert get_protocol(name).description
    with pytest.raises(KeyError, match="did you mean 'fastmri'"):
        get_protocol("fastmr")


def test_every_protocol_returns_five_metrics_and_rejects_shape_mismatch() -> None:
    pred, ref = _ct_pair()
    for name in EXPECTED:
        proto = get_protocol(name)
        if name == "brain-mask":
            out = proto.evaluate(np.abs(pred), np.abs(ref))
        else:
            out = proto.evaluate(pred, ref)
        assert set(out) == {"psnr", "ssim", "nrmse", "mae", "hfen"}
        assert all(math.isfinite(v) for v in out.values())
        with pytest.raises(
            ValueError, match=r"shape \(48, 39\) differs from reference shape \(48, 40\)"
        ):
            proto.evaluate(pred[:, :39], ref)


def test_unit_range_uses_the_reference_min_max_for_both() -> None:
    rng = np.random.default_rng(1)
    ref = 50.0 + 200.0 * rng.random((20, 22))
    pred = ref + 5.0 * rng.standard_normal(ref.shape)
    d = get_protocol("unit-range").prepare(pred, ref)
    lo, hi = ref.min(), ref.max()
    np.testing.assert_allclose(d.ref, (ref - lo) / (hi - lo))
    np.testing.assert_allclose(d.pred, (pred - lo) / (hi - lo))
    assert d.data_range == 1.0 and d.mask is None
    assert d.pred.min() < 0 or d.pred.max() > 1  # the prediction is not clipped
    # PSNR is invariant to an affine change of units applied to both images
    a = get_protocol("unit-range").evaluate(pred, ref)["psnr"]
    b = get_protocol("unit-range").evaluate(3 * pred + 7, 3 * ref + 7)["psnr"]
    assert a == pytest.approx(b)


def test_fastmri_range_is_the_reference_volume_max() -> None:
    rng = np.random.default_rng(2)
    ref = 1e-4 * rng.random((14, 16, 18))
    pred = ref * 1.05
    got = get_protocol("fastmri").evaluate(pred, ref)
    assert got["psnr"] == pytest.approx(psnr(pred, ref, data_range=float(ref.max())))
    assert got["ssim"] == pytest.approx(ssim(pred, ref, data_range=float(ref.max())))
    assert got["nrmse"] == pytest.approx(0.05)


def test_ct_window_clips_both_to_minus160_240_with_range_400() -> None:
    pred, ref = _ct_pair()
    got = get_protocol("ct-window").evaluate(pred, ref)
    p, r = np.clip(pred, -160, 240), np.clip(ref, -160, 240)
    assert got["psnr"] == pytest.approx(psnr(p, r, data_range=400.0))
    assert got["mae"] == pytest.approx(mae(p, r))
    # differences hidden outside the window (bone 1200 vs 2000 HU) do not count
    pred2 = pred.copy()
    pred2[ref > 1000] = 2000.0
    assert get_protocol("ct-window").evaluate(pred2, ref)["psnr"] == pytest.approx(got["psnr"])


def test_ldct_bench_offsets_and_clips_with_range_2924() -> None:
    pred, ref = _ct_pair()
    got = get_protocol("ldct-bench").evaluate(pred, ref)
    p, r = np.clip(pred + 1024, 0, 2924), np.clip(ref + 1024, 0, 2924)
    assert got["psnr"] == pytest.approx(psnr(p, r, data_range=2924.0))
    assert got["ssim"] == pytest.approx(ssim(p, r, data_range=2924.0))
    assert got["nrmse"] == pytest.approx(nrmse(p, r))


def test_dfgan_original_takes_the_range_from_the_first_argument() -> None:
    pred, ref = _ct_pair()
    proto = get_protocol("dfgan-original")
    assert proto.prepare(pred, ref).data_range == pytest.approx(pred.max())
    # one hot voxel in the prediction raises its own PSNR: why the protocol is not recommended
    hot = pred.copy()
    hot[20, 15] = 2500.0  # one bone voxel (1200 HU) made brighter
    assert proto.evaluate(hot, ref)["psnr"] > proto.evaluate(pred, ref)["psnr"]
    assert (
        get_protocol("ldct-bench").evaluate(hot, ref)["psnr"]
        < get_protocol("ldct-bench").evaluate(pred, ref)["psnr"]
    )


def test_brain_mask_on_mni_is_a_filled_brain(mni: np.ndarray) -> None:
    ref = mni[::2, ::2, ::2]  # 99 x 117 x 95 keeps the test fast
    mask = foreground_mask(ref)
    frac = mask.mean()
    assert 0.15 < frac < 0.4
    assert not mask[0, 0, 0] and mask[tuple(n // 2 for n in ref.shape)]
    assert ndimage.label(mask)[1] == 1
    assert np.array_equal(ndimage.binary_fill_holes(mask), mask)
    rng = np.random.default_rng(3)
    pred = ref + 3.0 * rng.standard_normal(ref.shape)
    d = get_protocol("brain-mask").prepare(pred, ref)
    assert d.mask is not None and np.array_equal(d.mask, mask)
    assert d.data_range == pytest.approx(ref[mask].max() - ref[mask].min())
    got = get_protocol("brain-mask").evaluate(pred, ref)
    assert got["mae"] == pytest.approx(mae(pred, ref, mask=mask))
    # noise in the background does not count
    noisy_bg = np.where(mask, pred, pred + 50.0)
    assert get_protocol("brain-mask").evaluate(noisy_bg, ref)["psnr"] == pytest.approx(got["psnr"])


def test_singleton_axes_are_dropped_and_crop_removes_borders() -> None:
    pred, ref = _ct_pair()
    flat = get_protocol("ct-window").evaluate(pred, ref)
    assert get_protocol("ct-window").evaluate(pred[None, None], ref[None, None]) == flat
    cropped = Protocol(name="c", description="d", range_rule="fixed", fixed_range=400.0, crop=4)
    prepared = cropped.prepare(pred, ref)
    assert prepared.pred.shape == (40, 32)
    np.testing.assert_array_equal(prepared.ref, ref[4:-4, 4:-4])


def test_degenerate_inputs_raise() -> None:
    with pytest.raises(ValueError, match="constant"):
        get_protocol("unit-range").evaluate(np.ones((12, 12)), np.ones((12, 12)))
    with pytest.raises(ValueError, match="foreground"):
        get_protocol("brain-mask").evaluate(np.zeros((12, 12)), np.zeros((12, 12)))
    with pytest.raises(ValueError, match="non-positive data range"):
        get_protocol("dfgan-original").evaluate(-np.ones((12, 12)), np.zeros((12, 12)))
    with pytest.raises(ValueError, match="fixed_range"):
        Protocol(name="x", description="x", range_rule="fixed")
