"""k-space data consistency: the output agrees with the measured k-space after replacement."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.degrade.kspace import truncate_kspace
from medsr.degrade.kspace_consistency import apply_data_consistency, consistency_error
from medsr.errors import ConfigError
from tests.infer._models import rand


@pytest.mark.parametrize("keep", [(5, 10, 17), (6, 7, 17)], ids=["odd-even", "even-odd"])
def test_low_resolution_input(keep: tuple[int, int, int]) -> None:
    hr = rand((1, 10, 20, 17), lo=0.5, hi=1.5)
    x_lq = truncate_kspace(hr, spatial_dims=3, keep=keep, keep_shape=False)
    scale = [n // m for n, m in zip(hr.shape[1:], keep)]
    out_shape = (1, *(m * s for m, s in zip(keep, scale)))
    pred = rand(out_shape, seed=1)  # a poor "SR output"
    fixed, report = apply_data_consistency(pred, x_lq)
    assert report.mode == "low-resolution" and report.keep == keep
    assert report.error_before > 0.1 and report.error_after < 1e-5
    assert consistency_error(fixed, x_lq) == pytest.approx(report.error_after)
    # Re-acquiring the corrected output with the same truncation gives back the input exactly.
    again = truncate_kspace(fixed, spatial_dims=3, keep=keep, keep_shape=False, magnitude=False)
    np.testing.assert_allclose(again, x_lq, atol=1e-5)
    # an output that already matches is left almost as it was
    if out_shape[1:] == hr.shape[1:]:
        assert consistency_error(hr, x_lq) < 0.1


@pytest.mark.parametrize("factor", [2.0, (1.0, 2.0, 3.0)])
def test_same_grid_zero_filled_input(factor: float | tuple[float, ...]) -> None:
    hr = rand((1, 12, 16, 15), lo=0.5, hi=1.5)
    x_lq = truncate_kspace(hr, spatial_dims=3, factor=factor, keep_shape=True)
    pred = rand(hr.shape, seed=2)
    fixed, report = apply_data_consistency(pred, x_lq, factor=factor)
    assert report.mode == "same-grid"
    assert report.error_before > 0.1 and report.error_after < 1e-5
    keep = report.keep
    a = truncate_kspace(fixed, spatial_dims=3, keep=keep, magnitude=False)
    b = truncate_kspace(x_lq, spatial_dims=3, keep=keep, magnitude=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    # Unmeasured frequencies stay the network's: away from the band and its mirror (the +M/2
    # line of an even M is set to the conjugate of -M/2) the spectrum is untouched.
    closure = np.ones((1, 1, 1), dtype=bool)
    for n, m in zip(hr.shape[1:], keep):
        k = np.rint(np.fft.fftfreq(n, 1 / n))
        closure = closure[..., None] & (np.abs(k) <= m // 2)
    closure = closure.reshape(hr.shape[1:])
    fp, ff = np.fft.fftn(pred[0]), np.fft.fftn(fixed[0])
    np.testing.assert_allclose(ff[~closure], fp[~closure], atol=1e-3)
    assert not np.allclose(ff[closure], fp[closure], atol=1e-3)


def test_same_grid_needs_the_truncation() -> None:
    with pytest.raises(ConfigError, match="kspace-factor"):
        apply_data_consistency(rand((1, 4, 4, 4)), rand((1, 4, 4, 4)))
    with pytest.raises(ConfigError, match="integer multiple"):
        apply_data_consistency(rand((1, 4, 9, 4)), rand((1, 4, 4, 4)))


def test_kspace_factor_is_read_from_a_training_config() -> None:
    from medsr.artifact.spec import kspace_factor_from_config
    from medsr.config import load_config, to_plain

    plain = to_plain(load_config("configs/bundled/mdcsrn_t1_k2.yaml"))
    assert kspace_factor_from_config(plain) == [1.0, 2.0, 2.0]
    assert kspace_factor_from_config(to_plain(load_config("configs/dfgan.yaml"))) is None
    assert kspace_factor_from_config({"degradation": {"kind": "kspace", "factor": 2}}) == 2
