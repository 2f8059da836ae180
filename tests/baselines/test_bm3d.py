"""BM3D as a CT baseline: HU-window units, the correlated-noise sigma (estimated, or given and
recorded), a real gain on a real CT slice without moving its HU, and a clear missing-package
error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from medsr.baselines import run_baseline
from medsr.baselines.bm3d_ct import BM3D_WINDOW_HU, bm3d_ct
from medsr.baselines.noise import estimate_ct_noise_sigma
from medsr.errors import ConfigError, MissingDependencyError
from medsr.volume import Volume

from .test_noise import _noise

bm3d = pytest.importorskip("bm3d")


def _real_ct_slice() -> np.ndarray:
    """pydicom's own CT_small.dcm (a real 128 x 128 CT slice), in HU."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


#: How far two bm3d calls on one input may differ (multi-threaded aggregation order).
BM3D_REPEAT_HU = 1.0


def _noisy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return clean + sigma * _noise("ct", 0.5, clean.shape, rng)


def test_runs_in_window_units() -> None:
    x = _noisy(_real_ct_slice()[32:96, 32:96], 60.0, 0)
    lo, hi = BM3D_WINDOW_HU
    unit = bm3d.bm3d((x - lo) / (hi - lo), sigma_psd=60.0 / (hi - lo))
    # bm3d's multi-threaded aggregation adds in a varying order: two calls on one input differ by
    # ~0.001 HU, and by 0.3 HU seen under CPU contention (bm3d's profiles.py says so). 1 HU is
    # still 47x tighter than a wrong mapping (sigma 50 instead of 60: 47 HU; the image's own
    # min..max as the window: 91 HU).
    np.testing.assert_allclose(bm3d_ct(x, sigma=60.0), unit * (hi - lo) + lo, atol=BM3D_REPEAT_HU)
    np.testing.assert_array_equal(bm3d_ct(x, sigma=0.0), x)


def test_reduces_correlated_noise_on_a_real_ct_slice_without_a_hu_shift() -> None:
    clean = _real_ct_slice()
    noisy = _noisy(clean, 80.0, 1)
    out = bm3d_ct(noisy[None])  # (1, H, W): one slice along D; sigma estimated
    assert out.shape == (1, *clean.shape)
    before = np.sqrt(np.mean((noisy - clean) ** 2))
    after = np.sqrt(np.mean((out[0] - clean) ** 2))
    assert after < 0.6 * before
    assert abs(out.mean() - noisy.mean()) < 5.0


def test_run_baseline_records_the_sigma_it_used() -> None:
    x = _noisy(_real_ct_slice()[32:96, 32:96], 50.0, 2).astype(np.float32)
    vol = Volume.from_array(x, modality="CT", unit="HU")
    est = run_baseline("bm3d", vol)
    record = est.meta["baseline"]
    assert record["sigma_source"] == "estimated"
    assert record["sigma"] == [pytest.approx(estimate_ct_noise_sigma(vol.array[0]))]
    given = run_baseline("bm3d", vol, sigma=30.0)
    assert given.meta["baseline"]["sigma"] == [30.0]
    assert given.meta["baseline"]["sigma_source"] == "given"
    np.testing.assert_allclose(
        given.array[0], bm3d_ct(vol.array[0], sigma=30.0), atol=BM3D_REPEAT_HU
    )
    assert not np.allclose(given.array, est.array, atol=1.0)  # the sigma matters


def test_sigma_is_refused_where_it_means_nothing() -> None:
    vol = Volume.from_array(np.zeros((16, 16), dtype=np.float32))
    with pytest.raises(ConfigError, match="takes no noise sigma"):
        run_baseline("identity", vol, sigma=3.0)
    with pytest.raises(ConfigError, match=">= 0"):
        run_baseline("bm3d", vol, sigma=-1.0)


def test_missing_bm3d_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bm3d", None)
    with pytest.raises(MissingDependencyError, match="pip install bm3d"):
        bm3d_ct(np.random.default_rng(3).normal(0.0, 20.0, (16, 16)), sigma=20.0)
