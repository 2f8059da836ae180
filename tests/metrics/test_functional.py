"""PSNR / SSIM / NRMSE / MAE: analytic values and agreement with scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from medsr.metrics.functional import mae, nrmse, psnr, ssim, ssim_map
from tests.metrics._reference import sk_ssim

skm = pytest.importorskip("skimage.metrics", reason="scikit-image is the reference")

TOL = 1e-4


def _random_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    pairs = []
    for shape in [(11, 11), (23, 31), (64, 47), (11, 12, 13), (17, 21, 19)]:
        ref = rng.random(shape)
        pairs.append((ref + 0.1 * rng.standard_normal(shape), ref))
        pairs.append((rng.random(shape), ref))  # unrelated image: SSIM near 0
    return pairs


def _degrade(ref: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(ref, 1.0) + 4.0 * rng.standard_normal(ref.shape)


def _real_pairs(mni: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    axial = mni[:, :, 95]  # 197 x 233, whole slice including background
    coronal = mni[40:150, 120, 30:160]
    cube = mni[70:110, 90:130, 70:110]  # 40^3 inside the brain
    return [(_degrade(r, i), r) for i, r in enumerate((axial, coronal, cube))]


def test_ssim_psnr_nrmse_agree_with_skimage_on_random_images() -> None:
    for pred, ref in _random_pairs():
        assert abs(ssim(pred, ref, data_range=1.0) - sk_ssim(pred, ref, 1.0)) < TOL
        sk_psnr = skm.peak_signal_noise_ratio(ref, pred, data_range=1.0)
        assert abs(psnr(pred, ref, data_range=1.0) - sk_psnr) < TOL
        assert abs(nrmse(pred, ref) - skm.normalized_root_mse(ref, pred)) < TOL


def test_metrics_agree_with_skimage_on_mni_slices_and_crop(mni: np.ndarray) -> None:
    for pred, ref in _real_pairs(mni):
        for data_range in (255.0, float(ref.max())):
            ours = ssim(pred, ref, data_range=data_range)
            assert abs(ours - sk_ssim(pred, ref, data_range)) < TOL
            sk_psnr = skm.peak_signal_noise_ratio(ref, pred, data_range=data_range)
            assert abs(psnr(pred, ref, data_range=data_range) - sk_psnr) < TOL
        assert abs(nrmse(pred, ref) - skm.normalized_root_mse(ref, pred)) < TOL
        assert 0.2 < ours < 0.999  # a real degradation, not a trivial case


@pytest.mark.parametrize("e", [0.5, -3.0, 0.01])
def test_constant_error_gives_analytic_psnr_and_mae(e: float) -> None:
    ref = np.random.default_rng(0).random((16, 20)) * 10.0
    assert psnr(ref + e, ref, data_range=10.0) == pytest.approx(10 * math.log10(100.0 / e**2))
    assert mae(ref + e, ref) == pytest.approx(abs(e))


def test_identical_images() -> None:
    x = np.random.default_rng(2).random((13, 14, 15))
    assert psnr(x, x, data_range=1.0) == math.inf
    assert ssim(x, x, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    assert nrmse(x, x) == 0.0
    assert mae(x, x) == 0.0


def test_nrmse_of_scaled_image_is_the_relative_error() -> None:
    ref = np.random.default_rng(3).random((20, 20)) + 0.5
    assert nrmse(1.1 * ref, ref) == pytest.approx(0.1)


def test_ssim_map_covers_the_valid_region_only() -> None:
    rng = np.random.default_rng(4)
    ref = rng.random((30, 25))
    smap = ssim_map(ref + 0.05, ref, data_range=1.0)
    assert smap.shape == (20, 15)
    assert ssim(ref + 0.05, ref, data_range=1.0) == pytest.approx(float(smap.mean()))


def test_mask_restricts_every_metric() -> None:
    rng = np.random.default_rng(5)
    ref = rng.random((24, 26))
    pred = ref + 0.1 * rng.standard_normal(ref.shape)
    full = np.ones(ref.shape, dtype=bool)
    assert psnr(pred, ref, data_range=1.0, mask=full) == psnr(pred, ref, data_range=1.0)
    assert ssim(pred, ref, data_range=1.0, mask=full) == ssim(pred, ref, data_range=1.0)
    mask = np.zeros(ref.shape, dtype=bool)
    mask[8:16, 6:20] = True
    err = np.mean((pred[mask] - ref[mask]) ** 2)
    assert psnr(pred, ref, data_range=1.0, mask=mask) == pytest.approx(-10 * math.log10(err))
    assert mae(pred, ref, mask=mask) == pytest.approx(np.mean(np.abs(pred - ref)[mask]))
    expected = ssim_map(pred, ref, data_range=1.0)[3:11, 1:15].mean()
    assert ssim(pred, ref, data_range=1.0, mask=mask) == pytest.approx(expected)
    # an error outside the mask changes nothing
    spoiled = pred.copy()
    spoiled[0:3, 0:3] += 5.0
    assert psnr(spoiled, ref, data_range=1.0, mask=mask) == psnr(
        pred, ref, data_range=1.0, mask=mask
    )


def test_bad_arguments_raise() -> None:
    a = np.zeros((12, 12))
    with pytest.raises(TypeError):
        psnr(a, a)  # type: ignore[call-arg]  # data_range is required
    with pytest.raises(ValueError, match="data_range"):
        ssim(a, a, data_range=0.0)
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, np.zeros((12, 13)), data_range=1.0)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((1, 12, 12)), np.zeros((1, 12, 12)), data_range=1.0)
    with pytest.raises(ValueError, match="NaN"):
        mae(a + np.nan, a)
    with pytest.raises(ValueError, match="no voxel"):
        ssim(a, a, data_range=1.0, mask=np.zeros_like(a, dtype=bool))
    with pytest.raises(ValueError, match="all-zero"):
        nrmse(a + 1, a)


def _log_kernel(sigma: float, radius: int, dims: int) -> np.ndarray:
    """Laplacian of a sampled Gaussian built by hand: sum over axes of g'' x g x ..."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    g2 = g * (x * x - sigma * sigma) / sigma**4  # second derivative of the Gaussian
    kernel = np.zeros((2 * radius + 1,) * dims)
    for axis in range(dims):
        parts = [g2 if a == axis else g for a in range(dims)]
        k = parts[0]
        for p in parts[1:]:
            k = np.multiply.outer(k, p)
        kernel += k
    return kernel


@pytest.mark.parametrize("shape", [(37, 41), (17, 19, 23)])
def test_hfen_matches_a_direct_log_convolution(shape: tuple[int, ...]) -> None:
    from scipy import ndimage

    from medsr.metrics import hfen

    rng = np.random.default_rng(3)
    ref = ndimage.gaussian_filter(rng.random(shape), 2.0)
    pred = ref + 0.05 * rng.standard_normal(shape)
    mask = np.zeros(shape, bool)
    mask[(slice(3, -3),) * len(shape)] = True
    k = _log_kernel(1.5, 7, len(shape))
    err = ndimage.convolve(pred - ref, k, mode="mirror")
    base = ndimage.convolve(ref, k, mode="mirror")
    want = np.linalg.norm(err[mask]) / np.linalg.norm(base[mask])
    assert hfen(pred, ref, mask=mask) == pytest.approx(want, rel=1e-4)  # float32 filtering
    assert hfen(ref, ref) == 0.0
    assert hfen(pred, ref * 1.5) != hfen(pred, ref)  # a new reference is not served from the cache
    # a constant offset has no high frequencies: HFEN ignores it, unlike the squared error
    # (the 15-tap truncated LoG sums to almost, not exactly, zero)
    assert hfen(ref + 0.3, ref) < 0.01 * hfen(pred, ref)
    assert hfen(pred + 0.3, ref) == pytest.approx(hfen(pred, ref), rel=0.01)
