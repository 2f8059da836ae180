"""CT baselines: the low-dose input itself, non-local means and bilateral filtering."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

from medsr.baselines import denoise
from medsr.errors import MissingDependencyError


def _real_ct_slice() -> np.ndarray:
    """pydicom's own CT_small.dcm (a real 128 x 128 CT slice), in HU."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_noise_sigma_estimate_is_within_10_percent() -> None:
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(64.0), 2 * np.arange(64.0))  # linear trends are cancelled
    for sigma in (1.0, 25.0):
        noisy = np.stack([ramp, ramp]) + sigma * rng.standard_normal((2, 64, 64))
        assert denoise.estimate_noise_sigma(noisy) == pytest.approx(sigma, rel=0.1)
    assert denoise.estimate_noise_sigma(ramp) == pytest.approx(0.0, abs=1e-9)


def test_identity_is_an_exact_copy() -> None:
    x = np.random.default_rng(1).random((3, 8, 8))
    out = denoise.identity(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize(("fn", "gain"), [(denoise.nlm, 0.7), (denoise.bilateral, 0.85)])
def test_classical_denoisers_reduce_error_on_a_real_ct_slice(
    fn: Callable[[np.ndarray], np.ndarray], gain: float
) -> None:
    pytest.importorskip("skimage")
    clean = _real_ct_slice()
    rng = np.random.default_rng(2)
    noisy = clean + 40.0 * rng.standard_normal(clean.shape)
    out = fn(noisy[None])  # (1, H, W): one slice along D
    assert out.shape == (1, *clean.shape)
    before = np.sqrt(np.mean((noisy - clean) ** 2))
    after = np.sqrt(np.mean((out[0] - clean) ** 2))
    assert after < gain * before
    assert abs(out.mean() - noisy.mean()) < 5.0  # no HU shift


def test_missing_scikit_image_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(MissingDependencyError, match="pip install scikit-image"):
        denoise.nlm(np.random.default_rng(3).random((16, 16)))
