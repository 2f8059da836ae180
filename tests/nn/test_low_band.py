"""Low-band consistency: the output keeps the input's Gaussian low band."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from medsr.models.generators.dfgan_unet import DFGANUNet
from medsr.nn.low_band import LowBandConsistency, gaussian_taps_1d


def test_taps_are_a_normalised_gaussian() -> None:
    taps = gaussian_taps_1d(2.0)
    assert taps.numel() == 2 * 6 + 1
    assert float(taps.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(taps.argmax()) == 6
    with pytest.raises(ValueError, match="sigma"):
        gaussian_taps_1d(0.0)


@pytest.mark.parametrize("dims", [2, 3])
def test_low_pass_matches_scipy(dims: int) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 1) + (20,) * dims).astype(np.float32)
    got = LowBandConsistency(1.5, dims).low_pass(torch.from_numpy(z)).numpy()[0, 0]
    want = ndimage.gaussian_filter(z[0, 0].astype(np.float64), 1.5, mode="mirror", truncate=3.0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_regional_offset_is_removed_and_detail_kept() -> None:
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(2, 1, 64, 64)).astype(np.float32))
    lb = LowBandConsistency(2.0, 2)
    # an output shifted by a constant: the shift lies wholly in the low band and is removed
    assert torch.allclose(lb(x + 0.7, x), x, atol=1e-5)
    # a checkerboard (the highest frequency) added to the input survives almost unchanged
    checker = torch.ones(64, 64)
    checker[::2, 1::2] = -1.0
    checker[1::2, ::2] = -1.0
    y = x + 0.5 * checker
    kept = lb(y, x) - x
    assert float((kept - 0.5 * checker).abs().max()) < 1e-3
    with pytest.raises(ValueError, match="differs"):
        lb(y[:, :, :32], x)


def test_dfgan_keep_low_band_adds_no_state_and_loads_old_weights() -> None:
    torch.manual_seed(0)
    plain = DFGANUNet(features=(4, 8, 16)).eval()
    kept = DFGANUNet(features=(4, 8, 16), keep_low_band=2.0).eval()
    assert plain.state_dict().keys() == kept.state_dict().keys()
    kept.load_state_dict(plain.state_dict())
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a, b = plain(x), kept(x)
    lb = LowBandConsistency(2.0, 2)
    torch.testing.assert_close(b, lb(a, x))
    # the U-Net's regional error (a - x low-passed) is gone from the kept output
    assert float(lb.low_pass(b - x).abs().mean()) < 0.2 * float(lb.low_pass(a - x).abs().mean())
    with pytest.raises(ValueError, match="keep_low_band"):
        DFGANUNet(features=(4, 8), keep_low_band=-1.0)
    with pytest.raises(ValueError, match="out_channels"):
        DFGANUNet(features=(4, 8), out_channels=2, keep_low_band=1.0)
