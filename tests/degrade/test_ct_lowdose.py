"""Low-dose CT simulation: identity, seeding, and the noise law on a real head CT (invesalius_head)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from medsr.degrade.ct import hu_to_mu, mu_to_hu, simulate_low_dose_ct
from medsr.degrade.ct_variance import ct_noise_coefficients, predict_ct_noise_variance
from medsr.errors import ConfigError

PIXEL = 0.5  # mm, for the synthetic phantoms


def _water_phantom(n: int = 48) -> np.ndarray:
    """A water cylinder (0 HU) with a 60 HU insert in air (-1000 HU)."""
    r = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0))
    hu = np.where(r < 0.4 * n, 0.0, -1000.0)
    hu[r < 0.12 * n] = 60.0
    return hu.astype(np.float32)


def test_hu_mu_round_trip() -> None:
    hu = np.array([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(hu_to_mu(hu), [0.0, 0.0192, 0.0384])
    np.testing.assert_allclose(mu_to_hu(hu_to_mu(hu)), hu, atol=1e-9)


def test_noise_free_injection_is_identity_and_reconstruction_is_close() -> None:
    hu = _water_phantom()
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(
        simulate_low_dose_ct(hu, rng=rng, pixel_size=PIXEL, i0=math.inf), hu
    )
    rec = simulate_low_dose_ct(
        hu, rng=rng, pixel_size=PIXEL, i0=math.inf, mode="reconstruct", views=180
    )
    r = np.hypot(*(np.mgrid[:48, :48] - 23.5))
    ring = (r > 8) & (r < 15)  # uniform water away from the edges
    assert abs(float(rec[ring].mean())) < 5.0
    assert abs(float(rec[r < 4].mean()) - 60.0) < 5.0


def test_seeded_and_dose_dependent() -> None:
    hu = _water_phantom()
    kw = {"pixel_size": PIXEL, "views": 90, "i0": 1e4}
    a = simulate_low_dose_ct(hu, rng=np.random.default_rng(1), dose=0.25, **kw)
    b = simulate_low_dose_ct(hu, rng=np.random.default_rng(1), dose=0.25, **kw)
    c = simulate_low_dose_ct(hu, rng=np.random.default_rng(2), dose=0.25, **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    full = simulate_low_dose_ct(hu, rng=np.random.default_rng(1), dose=1.0, **kw)
    assert (a - hu).std() > 1.5 * (full - hu).std()


def test_bad_parameters_raise() -> None:
    hu = _water_phantom(16)
    rng = np.random.default_rng(0)
    for bad, match in [
        ({"dose": 0.0}, "dose"),
        ({"i0": -1.0}, "i0"),
        ({"sigma_e": -1.0}, "sigma_e"),
        ({"pixel_size": 0.0}, "pixel_size"),
        ({"mode": "fbp"}, "mode"),
        ({"filter": "x"}, "filter"),
    ]:
        kwargs = {"pixel_size": PIXEL, **bad}
        with pytest.raises(ConfigError, match=match):
            simulate_low_dose_ct(hu, rng=rng, **kwargs)  # type: ignore[arg-type]


# --- the noise law on a real scan ---------------------------------------------------------------

I0, VIEWS, RADIUS = 1e5, 360, 10
SLICES = (44, 54, 64)
SIGMA_E = 20.0  # counts; about the expected count of the most attenuated rays at dose 0.1
CONFIGS = ((1.0, 0.0), (0.25, 0.0), (0.1, 0.0), (0.1, SIGMA_E))


@pytest.fixture(scope="module")
def head_noise() -> dict:
    """Simulate each (dose, sigma_e) once on three brain slices; return ROI noise and the model."""
    from medsr.data import catalogue

    if not catalogue.is_installed("invesalius_head"):
        pytest.skip("needs the real head CT: apt-get install invesalius-examples")
    vol = catalogue.load("invesalius_head")
    pixel = vol.spacing[1]
    stack = vol.array[0, list(SLICES)].astype(np.float64)
    rois = []
    for s in stack:  # the most uniform 21x21 soft-tissue (brain) window of each slice
        w = 2 * RADIUS + 1
        mean = uniform_filter(s, w)
        std = np.sqrt(np.maximum(uniform_filter(s * s, w) - mean**2, 0.0))
        score = np.where((mean > 0) & (mean < 80), std, np.inf)
        rois.append(np.unravel_index(np.argmin(score), score.shape))
    out: dict = {"noise": {}, "a": [], "b": []}
    for dose, sigma_e in CONFIGS:
        sim = simulate_low_dose_ct(
            stack,
            rng=np.random.default_rng(0),
            pixel_size=pixel,
            dose=dose,
            i0=I0,
            sigma_e=sigma_e,
            views=VIEWS,
        )
        out["noise"][dose, sigma_e] = np.stack(
            [
                (sim[q] - stack[q])[i - RADIUS : i + RADIUS + 1, j - RADIUS : j + RADIUS + 1]
                for q, (i, j) in enumerate(rois)
            ]
        )
    for q, (i, j) in enumerate(rois):
        pix = [
            (a, b)
            for a in range(i - RADIUS, i + RADIUS + 1, 5)
            for b in range(j - RADIUS, j + RADIUS + 1, 5)
        ]
        a, b = ct_noise_coefficients(stack[q], pixels=pix, pixel_size=pixel, i0=I0, views=VIEWS)
        out["a"].append(a)
        out["b"].append(b)
        assert (
            np.std(stack[q][i - RADIUS : i + RADIUS + 1, j - RADIUS : j + RADIUS + 1]) < 10.0
        )  # uniform
    out["a"], out["b"] = np.concatenate(out["a"]), np.concatenate(out["b"])
    return out


def test_noise_std_scales_as_inverse_sqrt_dose(head_noise: dict) -> None:
    std = {k: float(v.std()) for k, v in head_noise["noise"].items()}
    for dose in (0.25, 0.1):
        ratio = std[dose, 0.0] / std[1.0, 0.0]
        assert abs(ratio / math.sqrt(1.0 / dose) - 1.0) < 0.15, (dose, ratio)


def test_noise_matches_the_variance_model(head_noise: dict) -> None:
    a, b = head_noise["a"], head_noise["b"]
    for (dose, sigma_e), noise in head_noise["noise"].items():
        predicted = float(np.mean(a / dose + sigma_e**2 * b / dose**2))
        assert abs(float(noise.var()) / predicted - 1.0) < 0.15, (dose, sigma_e)


def test_electronic_noise_excess_matches_the_model(head_noise: dict) -> None:
    noise = head_noise["noise"]
    measured = float(noise[0.1, SIGMA_E].var() - noise[0.1, 0.0].var())
    predicted = float(np.mean(SIGMA_E**2 * head_noise["b"] / 0.1**2))
    assert measured > 0.5 * float(noise[0.1, 0.0].var())  # the excess is large at this dose
    assert abs(measured / predicted - 1.0) < 0.2, (measured, predicted)


def test_mean_hu_is_unchanged(head_noise: dict) -> None:
    for (_, sigma_e), noise in head_noise["noise"].items():
        if sigma_e == 0.0:
            assert abs(float(noise.mean())) < 5.0


def test_predicted_variance_is_the_sum_of_the_two_terms() -> None:
    hu = _water_phantom(32)
    kw = {"pixels": [(16, 16), (10, 20)], "pixel_size": PIXEL, "i0": 1e4, "views": 60}
    a, b = ct_noise_coefficients(hu, **kw)  # type: ignore[arg-type]
    assert np.all(a > 0) and np.all(b > 0)

    def var(dose: float, sigma_e: float) -> np.ndarray:
        return predict_ct_noise_variance(hu, dose=dose, sigma_e=sigma_e, **kw)  # type: ignore[arg-type]

    # the quantum term alone: half the dose, twice the variance (photon counts are Poisson)
    np.testing.assert_allclose(var(0.1, 0.0), 2.0 * var(0.2, 0.0), rtol=1e-12)
    np.testing.assert_allclose(var(0.2, 0.0), a / 0.2, rtol=1e-12)
    # the electronic term adds on top, with sigma_e^2 and 1 / dose^2 (it does not shrink with counts)
    extra = var(0.2, 5.0) - var(0.2, 0.0)
    np.testing.assert_allclose(var(0.2, 10.0) - var(0.2, 0.0), 4.0 * extra, rtol=1e-9)
    np.testing.assert_allclose(var(0.1, 5.0) - var(0.1, 0.0), 4.0 * extra, rtol=1e-9)
    assert np.all(extra > 0)


def test_batched_sparse_path_matches_the_per_slice_reference() -> None:
    stack = np.stack([_water_phantom(32), _water_phantom(32)[::-1].copy() + 40.0])
    kw = {"pixel_size": PIXEL, "views": 48}
    clean = {
        m: simulate_low_dose_ct(
            stack, rng=np.random.default_rng(0), i0=math.inf, mode="reconstruct", method=m, **kw
        )
        for m in ("gather", "sparse")
    }
    assert np.abs(clean["gather"] - stack).max() > 50.0  # FBP blur at the edges: a real signal
    np.testing.assert_allclose(clean["sparse"], clean["gather"], rtol=0, atol=0.05)  # HU
    # noisy: float32 rounding of a line integral may shift numpy's Poisson stream, so compare the
    # noise (std and mean), not the draws
    noisy = {
        m: simulate_low_dose_ct(
            stack, rng=np.random.default_rng(5), i0=2e4, sigma_e=3.0, method=m, **kw
        )
        - stack
        for m in ("gather", "sparse")
    }
    assert noisy["gather"].std() > 50.0
    assert abs(noisy["sparse"].std() / noisy["gather"].std() - 1.0) < 0.1
    assert abs(float(noisy["sparse"].mean())) < 0.1 * noisy["gather"].std()


def test_batch_size_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import medsr.degrade.ct as ct

    stack = np.stack([_water_phantom(24) + 10.0 * k for k in range(3)])
    kw = {"pixel_size": PIXEL, "views": 30, "i0": 1e4}
    whole = simulate_low_dose_ct(stack, rng=np.random.default_rng(7), **kw)
    monkeypatch.setattr(ct, "_BATCH_RAYS", 1)  # one slice per batch
    single = simulate_low_dose_ct(stack, rng=np.random.default_rng(7), **kw)
    np.testing.assert_allclose(whole, single, rtol=0, atol=1e-3)
    assert not np.allclose(whole[0] - stack[0], whole[1] - stack[1], atol=1.0)  # fresh noise


def test_unknown_projector_method_raises() -> None:
    with pytest.raises(ConfigError, match="method"):
        simulate_low_dose_ct(
            _water_phantom(16), rng=np.random.default_rng(0), pixel_size=PIXEL, method="x"
        )  # type: ignore[arg-type]
