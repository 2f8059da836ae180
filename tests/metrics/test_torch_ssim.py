"""The differentiable torch SSIM agrees with scikit-image and the numpy SSIM."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
import torch
from scipy import ndimage

from medsr.metrics.functional import ssim
from medsr.metrics.torch_ssim import ssim_torch
from tests.metrics._reference import sk_ssim

skm = pytest.importorskip("skimage.metrics", reason="scikit-image is the reference")


def _t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)[None, None]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_agrees_with_skimage_random_and_mni(mni: np.ndarray, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(0)
    cases = []
    for shape in [(11, 13), (29, 33), (12, 15, 11), (18, 16, 20)]:
        ref = rng.random(shape)
        cases.append((ref + 0.1 * rng.standard_normal(shape), ref, 1.0))
    for ref in (mni[:, :, 95], mni[60:100, 100:140, 70:110]):
        cases.append(
            (ndimage.gaussian_filter(ref, 1.0) + 4 * rng.standard_normal(ref.shape), ref, 255.0)
        )
    for pred, ref, rng_val in cases:
        dims: Literal[2, 3] = 2 if ref.ndim == 2 else 3
        got = ssim_torch(_t(pred, dtype), _t(ref, dtype), data_range=rng_val, spatial_dims=dims)
        assert got.dtype == dtype
        assert abs(float(got) - sk_ssim(pred, ref, rng_val)) < 1e-4


def test_batch_channels_and_per_item_range() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 2, 16, 17, dtype=torch.float64, generator=g)
    pred = target + 0.1 * torch.randn(target.shape, dtype=torch.float64, generator=g)
    ranges = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    per = ssim_torch(pred, target, data_range=ranges, spatial_dims=2, reduction="none")
    assert per.shape == (3, 2)
    for b in range(3):
        for c in range(2):
            expected = ssim(pred[b, c].numpy(), target[b, c].numpy(), data_range=float(ranges[b]))
            assert float(per[b, c]) == pytest.approx(expected, abs=1e-10)
    mean = ssim_torch(pred, target, data_range=ranges, spatial_dims=2)
    assert float(mean) == pytest.approx(float(per.mean()))


def test_gradient_is_finite_and_improves_ssim() -> None:
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 1, 12, 12, 12, generator=g)
    pred = (target + 0.3 * torch.randn(target.shape, generator=g)).requires_grad_(True)
    loss = 1 - ssim_torch(pred, target, data_range=1.0, spatial_dims=3)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0
    stepped = (pred - 0.5 * pred.grad).detach()
    assert 1 - ssim_torch(stepped, target, data_range=1.0, spatial_dims=3) < loss.detach()


def test_bad_inputs_raise() -> None:
    x = torch.zeros(1, 1, 12, 12)
    with pytest.raises(ValueError, match="spatial_dims"):
        ssim_torch(x, x, data_range=1.0, spatial_dims=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tensor"):
        ssim_torch(x, x, data_range=1.0, spatial_dims=3)
    with pytest.raises(ValueError, match=">= 11"):
        ssim_torch(x[..., :10], x[..., :10], data_range=1.0, spatial_dims=2)
    with pytest.raises(ValueError, match="positive"):
        ssim_torch(x, x, data_range=0.0, spatial_dims=2)
    with pytest.raises(ValueError, match="differ"):
        ssim_torch(x, x[..., :11], data_range=1.0, spatial_dims=2)
