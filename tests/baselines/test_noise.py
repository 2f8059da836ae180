"""The CT noise estimate: right for spatially correlated noise of known sigma, where the white-noise
estimator reads a fraction of it, and on a real CT slice with simulated quarter dose."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medsr.baselines.denoise import estimate_noise_sigma
from medsr.baselines.noise import estimate_ct_noise_sigma


def _phantom(n: int = 192) -> np.ndarray:
    """Body-sized ellipse in HU: fat rim, soft tissue, two lungs, a vessel and a bone."""
    yy, xx = np.mgrid[:n, :n] / (n - 1) * 2.0 - 1.0
    img = np.full((n, n), -1000.0)
    img[(xx / 0.95) ** 2 + (yy / 0.7) ** 2 < 1] = -100.0
    img[(xx / 0.85) ** 2 + (yy / 0.6) ** 2 < 1] = 50.0
    for cx in (-0.4, 0.4):
        img[((xx - cx) / 0.25) ** 2 + (yy / 0.35) ** 2 < 1] = -850.0
    img[(xx - 0.1) ** 2 + (yy - 0.1) ** 2 < 0.02] = 150.0
    img[xx**2 + (yy + 0.45) ** 2 < 0.01] = 900.0
    return img


def _noise(kind: str, param: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance correlated noise: ``ct``: white noise through a ramp filter with a Hann
    roll-off reaching zero at ``param`` cycles/voxel (the FBP noise spectrum); ``gauss``: white
    noise blurred by a Gaussian of ``param`` voxels."""
    white = rng.standard_normal(shape)
    if kind == "gauss":
        out = ndimage.gaussian_filter(white, param)
    else:
        f = np.hypot(
            *np.meshgrid(np.fft.fftfreq(shape[0]), np.fft.fftfreq(shape[1]), indexing="ij")
        )
        gain = f * np.where(f < param, 0.5 + 0.5 * np.cos(np.pi * f / param), 0.0)
        out = np.real(np.fft.ifft2(np.fft.fft2(white) * gain))
    return out / out.std()


@pytest.mark.parametrize(
    ("kind", "param", "sigma", "rel"),
    [
        *((k, p, s, 0.15) for k, p in [("ct", 0.5), ("ct", 0.35), ("gauss", 0.7)]
          for s in (20.0, 60.0, 120.0)),
        # noise correlated over more voxels: within 15 % at CT noise levels, 20 % when it is
        # small next to the phantom's 150 HU fat / soft-tissue edges (module docstring)
        *((k, p, s, 0.15) for k, p in [("ct", 0.25), ("gauss", 1.0)] for s in (60.0, 120.0)),
        ("ct", 0.25, 20.0, 0.2),
        ("gauss", 1.0, 20.0, 0.2),
    ],
)  # fmt: skip
def test_correlated_noise_of_known_sigma(kind: str, param: float, sigma: float, rel: float) -> None:
    rng = np.random.default_rng(int(sigma) + int(100 * param))
    clean = _phantom()
    noisy = clean + sigma * _noise(kind, param, clean.shape, rng)
    assert estimate_ct_noise_sigma(noisy) == pytest.approx(sigma, rel=rel)
    # the white-noise estimator reads only the highest frequencies: far too low here
    assert estimate_noise_sigma(noisy) < 0.6 * sigma


def test_white_noise_and_volumes() -> None:
    rng = np.random.default_rng(5)
    clean = np.stack([_phantom()] * 2)
    noisy = clean + 40.0 * rng.standard_normal(clean.shape)
    assert estimate_ct_noise_sigma(noisy) == pytest.approx(40.0, rel=0.1)
    assert estimate_ct_noise_sigma(noisy[1]) == pytest.approx(40.0, rel=0.1)
    assert estimate_noise_sigma(noisy) == pytest.approx(40.0, rel=0.1)  # white: both agree


def test_noise_free_piecewise_constant_image_reads_low() -> None:
    assert estimate_ct_noise_sigma(_phantom()) == 0.0  # only the boxes on edges vary
    assert estimate_ct_noise_sigma(np.full((32, 32), 40.0)) == 0.0


def test_outside_the_tissue_range_every_voxel_counts() -> None:
    rng = np.random.default_rng(6)
    lung = -850.0 + 30.0 * _noise("ct", 0.35, (96, 96), rng)  # no soft tissue at all
    assert estimate_ct_noise_sigma(lung) == pytest.approx(30.0, rel=0.15)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="too small"):
        estimate_ct_noise_sigma(np.zeros((5, 40)))
    with pytest.raises(ValueError, match="2D or 3D"):
        estimate_ct_noise_sigma(np.zeros(40))
    with pytest.raises(ValueError, match="trim"):
        estimate_ct_noise_sigma(np.zeros((40, 40)), trim=0.5)


def test_real_ct_slice_with_simulated_quarter_dose() -> None:
    from medsr.data import catalogue
    from medsr.degrade.volumes import lowdose_ct_volume
    from medsr.volume import Volume

    if not catalogue.is_installed("pydicom_ct_j2k"):
        pytest.skip("pip install pydicom pydicom-data pylibjpeg pylibjpeg-openjpeg")
    full = catalogue.load("pydicom_ct_j2k")
    low = lowdose_ct_volume(full, rng=np.random.default_rng(0), dose=0.25, i0=1e5, views=360)
    hq, lq = full.array[0, 0].astype(np.float64), low.array[0, 0].astype(np.float64)
    body = ndimage.uniform_filter(hq, 9) > -500.0
    true = float((lq - hq)[body].std())  # the noise the simulation added, inside the body
    assert isinstance(low, Volume) and true > 30.0
    assert estimate_ct_noise_sigma(lq) == pytest.approx(true, rel=0.15)
    assert estimate_noise_sigma(lq) < 0.75 * true  # what the white-noise estimator reads
