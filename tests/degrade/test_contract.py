"""Contract of every registered degradation: identity at zero strength, seeding, no global RNG use."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from medsr.degrade import DEGRADATIONS

S2 = {"spatial_dims": 2}
#: name -> (zero-strength kwargs, strong kwargs, random?)
TABLE: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "kspace_truncate": ({**S2, "factor": 1}, {**S2, "factor": 2}, False),
    "kspace_truncate_zero_edges": (
        {**S2, "edge_divisor": math.inf},
        {**S2, "edge_divisor": 2.5},
        False,
    ),
    "kspace_random_truncate": (
        {**S2, "factor_low": 1, "factor_high": 1},
        {**S2, "factor_low": 1.5, "factor_high": 3},
        True,
    ),
    "kspace_gaussian": ({**S2, "sigma": math.inf}, {**S2, "sigma": 0.1}, False),
    "kspace_random_gaussian": (
        {**S2, "sigma_low": math.inf, "sigma_high": math.inf},
        {**S2, "sigma_low": 0.05, "sigma_high": 0.3},
        True,
    ),
    "kspace_aug1_blend": (
        {**S2, "zero_lines": 0},
        {**S2, "zero_lines": 4, "reference_lines": None},
        True,
    ),
    "kspace_aug2_gaussian": (
        {**S2, "zero_lines": 0, "sigma_low": math.inf, "sigma_high": math.inf},
        {**S2, "zero_lines": 4, "reference_lines": None},
        True,
    ),
    "kspace_aug3_shift": (
        {**S2, "zero_lines": 0},
        {**S2, "zero_lines": 6, "reference_lines": None},
        False,
    ),
    "kspace_aug4_centred": (
        {**S2, "zero_lines": 0},
        {**S2, "zero_lines": 6, "reference_lines": None},
        False,
    ),
    "kspace_aug5_blend160": ({**S2, "zero_lines": 0}, {**S2}, True),
    "kspace_aug_choice": (
        {**S2, "choices": [{"name": "kspace_aug3_shift", "kwargs": {"zero_lines": 0}}]},
        {**S2, "choices": ["kspace_aug1_blend", "kspace_aug5_blend160"]},
        True,
    ),
    "downsample_area": ({**S2, "factor": 1}, {**S2, "factor": 2}, False),
    "downsample_bicubic": ({**S2, "factor": 1}, {**S2, "factor": 3}, False),
    "decimate": ({**S2, "factor": 1}, {**S2, "factor": 2}, False),
    "slice_thickness": (
        {**S2, "axis": 0, "thickness": 0.0},
        {**S2, "axis": 0, "thickness": 3.0, "factor": 2},
        False,
    ),
    "gaussian_noise": ({"sigma": 0.0}, {"sigma": 0.1}, True),
    "rician_noise": ({"sigma": 0.0}, {"sigma": 0.1}, True),
    "poisson_gaussian_noise": ({"gain": 0.0, "sigma": 0.0}, {"gain": 0.01, "sigma": 0.01}, True),
    "lowdose_ct": (
        {"pixel_size": 1.0, "i0": math.inf},
        {"pixel_size": 1.0, "dose": 0.25, "i0": 1e4, "views": 24},
        True,
    ),
}


#: Output shapes of the strong settings that resample ``_x()`` (2 x 17 x 16).
RESAMPLED = {
    "decimate": (2, 9, 8),  # every 2nd sample from the first: ceil(17 / 2)
    "downsample_area": (2, 8, 8),  # whole blocks of 2: floor(17 / 2)
    "downsample_bicubic": (2, 5, 5),  # floor(17 / 3), floor(16 / 3)
    "slice_thickness": (2, 8, 16),  # axis 0 of the 2D image: floor(17 / 2)
}


def _x() -> np.ndarray:
    return np.random.default_rng(123).random((2, 17, 16)).astype(np.float32)


def _call(name: str, kwargs: dict[str, Any], seed: int) -> np.ndarray:
    fn = DEGRADATIONS.get(name)
    if TABLE[name][2]:
        return fn(_x(), rng=np.random.default_rng(seed), **kwargs)
    return fn(_x(), **kwargs)


def test_every_registered_degradation_is_in_the_table() -> None:
    assert set(DEGRADATIONS.names()) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_identity_at_zero_strength(name: str) -> None:
    out = _call(name, TABLE[name][0], seed=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _x(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_strong_setting_changes_the_image_deterministically_per_seed(name: str) -> None:
    _zero, strong, random = TABLE[name]
    a = _call(name, strong, seed=1)
    b = _call(name, strong, seed=1)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    # a resampling degradation must give its grid, and still the image (not a constant)
    assert a.shape == RESAMPLED.get(name, _x().shape)
    if a.shape == _x().shape:
        assert not np.allclose(a, _x(), atol=1e-3)
    else:
        assert float(a.std()) > 0.1 * float(_x().std())
        assert abs(float(a.mean()) - float(_x().mean())) < 0.1  # the same image, coarser
    if random:
        c = _call(name, strong, seed=2)
        assert a.shape == c.shape and not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_global_rng_is_not_touched(name: str) -> None:
    np.random.seed(7)  # noqa: NPY002 - the legacy global state is what must stay untouched
    torch.manual_seed(7)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
    _call(name, TABLE[name][1], seed=3)
    after = np.random.get_state()  # noqa: NPY002
    assert all(np.array_equal(u, v) for u, v in zip(np_state, after))
    assert torch.equal(torch_state, torch.get_rng_state())


@pytest.mark.parametrize("name", sorted(n for n in TABLE if TABLE[n][2]))
def test_random_degradations_refuse_a_missing_generator(name: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        DEGRADATIONS.get(name)(_x(), rng=None, **TABLE[name][1])
