"""The five k-space augmentations of the mDCSRN slides, each against a direct ``np.fft`` reference
(full ``fftn`` over every spatial axis, edges zeroed by slicing), and the per-call choice."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from medsr.degrade import DEGRADATIONS, DegradationPipeline
from medsr.degrade.kspace_mdcsrn_augment import (
    SLIDE_AUGMENTATIONS,
    kspace_aug1_blend,
    kspace_aug2_gaussian,
    kspace_aug3_shift,
    kspace_aug4_centred,
    kspace_aug5_blend160,
    kspace_aug_choice,
    zeroed_lines,
)
from medsr.errors import ConfigError

SPATIAL = (1, 2, 3)  # array axes of a (C, D, H, W) volume


def _volume(shape: tuple[int, ...] = (2, 9, 20, 17), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) + 0.5


def _zero_edges(spec: np.ndarray, counts: dict[int, int]) -> np.ndarray:
    """Zero ``z // 2`` lines at the start and ``z - z // 2`` at the end of each listed axis."""
    out = spec.copy()
    for axis, z in counts.items():
        lo, hi = z // 2, z - z // 2
        head = [slice(None)] * out.ndim
        head[axis] = slice(0, lo)
        out[tuple(head)] = 0
        tail = [slice(None)] * out.ndim
        tail[axis] = slice(out.shape[axis] - hi, out.shape[axis])
        out[tuple(tail)] = 0
    return out


def _lowpass(x: np.ndarray, counts: dict[int, int]) -> np.ndarray:
    """``fftshift(fftn)`` layout: the array edges are the highest frequencies."""
    spec = np.fft.fftshift(np.fft.fftn(x, axes=SPATIAL), axes=SPATIAL)
    spec = np.fft.ifftshift(_zero_edges(spec, counts), axes=SPATIAL)
    return np.fft.ifftn(spec, axes=SPATIAL)


def _highpass(x: np.ndarray, counts: dict[int, int]) -> np.ndarray:
    """Plain ``fftn`` layout: the array edges are the lowest frequencies."""
    return np.fft.ifftn(_zero_edges(np.fft.fftn(x, axes=SPATIAL), counts), axes=SPATIAL)


def _uniform(seed: int, low: float, high: float) -> float:
    return low + float(np.random.default_rng(seed).random(1)[0]) * (high - low)


ABS6 = {"zero_lines": 6, "reference_lines": None}
IN_PLANE6 = {2: 6, 3: 6}  # default axes: the last two spatial axes (H, W)


def test_zero_counts_are_both_edges_together_at_320_lines() -> None:
    assert zeroed_lines(320, zero_lines=20, reference_lines=320) == 20  # 10 per edge
    assert zeroed_lines(320, zero_lines=160, reference_lines=320) == 160  # half: factor 2
    assert zeroed_lines(64, zero_lines=20, reference_lines=320) == 4
    assert zeroed_lines(64, zero_lines=160, reference_lines=320) == 32
    assert zeroed_lines(40, zero_lines=20, reference_lines=320) == 3  # round(2.5) half up
    assert zeroed_lines(17, zero_lines=5, reference_lines=None) == 5
    with pytest.raises(ConfigError, match="leaves none"):
        zeroed_lines(16, zero_lines=16, reference_lines=None)
    with pytest.raises(ConfigError, match="zero_lines"):
        zeroed_lines(16, zero_lines=-1, reference_lines=None)


def test_aug3_is_the_centred_low_pass_truncation() -> None:
    x = _volume()
    out = kspace_aug3_shift(x, spatial_dims=3, **ABS6)
    np.testing.assert_allclose(out, np.abs(_lowpass(x, IN_PLANE6)), rtol=1e-5, atol=1e-5)
    # the slice axis D is untouched: every D-plane's H, W spectrum is truncated alike
    one = kspace_aug3_shift(x[:, 4], spatial_dims=2, **ABS6)
    np.testing.assert_allclose(out[:, 4], one, rtol=1e-5, atol=1e-6)


def test_aug4_follows_its_literal_chain_and_equals_aug3() -> None:
    x = _volume((1, 7, 15, 16))
    counts = {1: 4, 2: 4, 3: 4}
    y = np.fft.fftshift(x, axes=SPATIAL)
    spec = np.fft.fftshift(np.fft.fftn(y, axes=SPATIAL), axes=SPATIAL)
    spec = np.fft.ifftshift(_zero_edges(spec, counts), axes=SPATIAL)
    ref = np.abs(np.fft.ifftshift(np.fft.ifftn(spec, axes=SPATIAL), axes=SPATIAL))
    kw: dict[str, Any] = {"zero_lines": 4, "reference_lines": None, "axes": [0, 1, 2]}
    out = kspace_aug4_centred(x, spatial_dims=3, **kw)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        out, kspace_aug3_shift(x, spatial_dims=3, **kw), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("seed", [0, 5])
def test_aug1_blends_the_high_pass_and_the_low_pass_truncation(seed: int) -> None:
    x = _volume()
    a = _uniform(seed, 0.2, 0.7)
    ref = np.abs(a * _highpass(x, IN_PLANE6) + (1 - a) * _lowpass(x, IN_PLANE6))
    out = kspace_aug1_blend(
        x, rng=np.random.default_rng(seed), spatial_dims=3, blend_low=0.2, blend_high=0.7, **ABS6
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    high = kspace_aug1_blend(
        x, rng=np.random.default_rng(seed), spatial_dims=3, blend_low=1, blend_high=1, **ABS6
    )
    np.testing.assert_allclose(high, np.abs(_highpass(x, IN_PLANE6)), rtol=1e-5, atol=1e-5)
    # the high-pass removes DC: the mean of the complex image is gone
    assert abs(_highpass(x, IN_PLANE6).mean()) < 1e-9 < x.mean()


def test_aug2_is_the_high_pass_zeroing_times_a_gaussian() -> None:
    x = _volume((2, 6, 24, 21))
    seed, counts = 3, {2: 6, 3: 6}
    sigma = _uniform(seed, 0.1, 0.3)
    spec = _zero_edges(np.fft.fftn(x, axes=SPATIAL), counts)
    for axis in (2, 3):
        k = np.fft.fftfreq(x.shape[axis])
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        spec = spec * np.exp(-0.5 * (k / sigma) ** 2).reshape(shape)
    ref = np.abs(np.fft.ifftn(spec, axes=SPATIAL))
    out = kspace_aug2_gaussian(
        x, rng=np.random.default_rng(seed), spatial_dims=3, sigma_low=0.1, sigma_high=0.3, **ABS6
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_aug5_zeroes_half_the_lines_and_its_two_masks_are_complementary() -> None:
    x = _volume((1, 3, 40, 40))  # 40 lines: 160 of 320 -> 20 zeroed, 10 per edge
    low = kspace_aug5_blend160(
        x, rng=np.random.default_rng(0), spatial_dims=3, blend_low=0, blend_high=0
    )
    np.testing.assert_allclose(low, np.abs(_lowpass(x, {2: 20, 3: 20})), rtol=1e-5, atol=1e-5)
    mixed = kspace_aug5_blend160(x, rng=np.random.default_rng(9), spatial_dims=3)
    a = _uniform(9, 0.0, 1.0)
    ref = np.abs(a * _highpass(x, {2: 20, 3: 20}) + (1 - a) * _lowpass(x, {2: 20, 3: 20}))
    np.testing.assert_allclose(mixed, ref, rtol=1e-5, atol=1e-5)
    # on one axis the kept bands of the two layouts partition the spectrum: the parts add up to x
    parts = [
        kspace_aug5_blend160(
            x, rng=np.random.default_rng(0), spatial_dims=3, axes=[2], blend_low=b, blend_high=b,
            magnitude=False,
        )
        for b in (0.0, 1.0)
    ]  # fmt: skip
    np.testing.assert_allclose(parts[0] + parts[1], x, rtol=1e-5, atol=1e-5)
    assert not np.allclose(parts[0], x, atol=1e-2)


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (kspace_aug1_blend, {"blend_low": 0.8, "blend_high": 0.2}, "blend_low"),
        (kspace_aug1_blend, {"axes": [0, 3]}, "axes"),
        (kspace_aug2_gaussian, {"sigma_low": 0.0}, "sigma_low"),
        (kspace_aug3_shift, {"zero_lines": 40, "reference_lines": None}, "leaves none"),
    ],
)
def test_bad_arguments_name_the_fix(fn: Any, kwargs: dict[str, Any], match: str) -> None:
    extra = {"rng": np.random.default_rng(0)} if fn is not kspace_aug3_shift else {}
    with pytest.raises(ConfigError, match=match):
        fn(_volume(), spatial_dims=3, **extra, **kwargs)


def test_every_slide_augmentation_is_registered_under_a_kspace_name() -> None:
    assert len(SLIDE_AUGMENTATIONS) == 5
    for name in (*SLIDE_AUGMENTATIONS, "kspace_aug_choice"):
        assert "kspace" in name and name in DEGRADATIONS.names()


def test_choice_draws_each_option_and_respects_weights() -> None:
    x = _volume((1, 4, 16, 16))
    options = [
        {"name": "kspace_aug3_shift", "kwargs": ABS6},
        {"name": "kspace_aug1_blend", "kwargs": {**ABS6, "blend_low": 1, "blend_high": 1}},
    ]
    candidates = [
        kspace_aug3_shift(x, spatial_dims=3, **ABS6),
        np.abs(_highpass(x, IN_PLANE6)).astype(np.float32),
    ]
    picked = []
    for seed in range(40):
        out = kspace_aug_choice(x, rng=np.random.default_rng(seed), spatial_dims=3, choices=options)
        hits = [i for i, c in enumerate(candidates) if np.allclose(out, c, rtol=1e-5, atol=1e-5)]
        assert len(hits) == 1
        picked.append(hits[0])
    assert 10 <= sum(picked) <= 30  # both options drawn, roughly evenly
    only_first = [
        kspace_aug_choice(x, rng=np.random.default_rng(s), spatial_dims=3, choices=options,
                          weights=[1, 0])
        for s in range(5)
    ]  # fmt: skip
    for out in only_first:
        np.testing.assert_allclose(out, candidates[0], rtol=1e-5, atol=1e-5)


def test_choice_defaults_to_the_five_and_is_seeded() -> None:
    x = _volume((1, 4, 32, 32))
    a = kspace_aug_choice(x, rng=np.random.default_rng(1), spatial_dims=3)
    b = kspace_aug_choice(x, rng=np.random.default_rng(1), spatial_dims=3)
    np.testing.assert_array_equal(a, b)
    outs = {
        kspace_aug_choice(x, rng=np.random.default_rng(s), spatial_dims=3).tobytes()
        for s in range(8)
    }
    assert len(outs) > 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"choices": ["kspace_aug9"]}, "unknown degradation 'kspace_aug9'"),
        ({"choices": [{"name": "kspace_aug3_shift", "kwargs": {"zero": 2}}]}, "zero"),
        ({"choices": ["kspace_aug_choice"]}, "cannot choose itself"),
        ({"choices": ["kspace_aug3_shift"], "weights": [1, 2]}, "weights"),
        ({"choices": [{"name": "kspace_aug1_blend", "kwargs": {"rng": 1}}]}, "leave out rng"),
    ],
)
def test_bad_choices_fail_when_the_pipeline_is_built(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DegradationPipeline([("kspace_aug_choice", {"spatial_dims": 3, **kwargs})])


def test_gaussian_filter_infinite_sigma_leaves_only_the_zeroing() -> None:
    x = _volume((1, 3, 12, 12))
    out = kspace_aug2_gaussian(
        x, rng=np.random.default_rng(0), spatial_dims=3, sigma_low=math.inf, sigma_high=math.inf,
        **ABS6,
    )  # fmt: skip
    np.testing.assert_allclose(out, np.abs(_highpass(x, IN_PLANE6)), rtol=1e-5, atol=1e-6)
