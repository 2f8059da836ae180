"""scikit-image as the reference SSIM: the setting on which it, pytorch-msssim and MONAI agree."""

from __future__ import annotations

import numpy as np
import pytest

skm = pytest.importorskip("skimage.metrics", reason="scikit-image is the reference")


def sk_ssim(pred: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    """SSIM with the Gaussian window (sigma 1.5) and population covariance."""
    return float(
        skm.structural_similarity(
            ref,
            pred,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=data_range,
        )
    )
