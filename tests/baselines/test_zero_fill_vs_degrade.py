"""``medsr degrade --kind kspace --keep-shape`` against ``medsr degrade`` + ``baseline zero-filled``.

Both paths share the kept count ``M = floor(N / f + 1/2)``, the field-of-view phase ramp and the
``M / N`` intensity scale, so they give the same image to float32 precision whenever the
low-resolution magnitude image holds everything the same-grid image is made from: an odd ``M``
(no unpaired ``-M/2`` line) and a truncated image without sign changes. Otherwise they differ by
what the magnitude on the low-resolution grid drops (docs/degradations.md, "`--keep-shape`
and `medsr baseline zero-filled`").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr.baselines.zero_fill import zero_fill_upsample
from medsr.cli.main import main
from medsr.degrade.kspace import truncate_kspace
from medsr.io import read_volume, write_volume
from medsr.volume import Volume

FACTOR = (1, 2, 2)


def _volume(shape: tuple[int, int, int]) -> np.ndarray:
    """Positive low frequencies (kept by factor 2) plus high ones (dropped by it)."""
    d, h, w = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    u, v = 2 * np.pi * h / shape[1], 2 * np.pi * w / shape[2]
    low = 10.0 + 2.0 * np.cos(2 * u + 0.3) + 1.5 * np.sin(3 * v + 1.1) + 0.5 * np.cos(u - v)
    high = 0.8 * np.cos(7 * u + 0.2) + 0.6 * np.sin(11 * v) + 0.3 * d
    return low + high


def _write(array: np.ndarray, path: Path) -> Path:
    affine = np.zeros((4, 4))  # the reader's canonical order: D is z, H is y, W is x
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = 2.0, 0.9, 0.8, 1.0
    affine[:3, 3] = (5.0, -3.0, 12.0)
    vol = Volume(array=array[None].astype(np.float32), spacing=(2.0, 0.9, 0.8), affine=affine)
    return write_volume(vol, path)


def test_both_cli_paths_give_one_zero_filled_image(tmp_path: Path) -> None:
    # N = (3, 18, 30): M = (3, 9, 15), odd, and N = 2 M on the truncated axes
    hr = _volume((3, 18, 30))
    src = _write(hr, tmp_path / "hr.nii.gz")
    same, low, up = tmp_path / "zf.nii.gz", tmp_path / "lr.nii.gz", tmp_path / "up.nii.gz"
    factor = [str(f) for f in FACTOR]
    kspace = ["--kind", "kspace", "--factor", *factor]
    assert main(["degrade", str(src), "-o", str(same), *kspace, "--keep-shape"]) == 0
    assert main(["degrade", str(src), "-o", str(low), *kspace]) == 0
    assert main(["baseline", "zero-filled", str(low), "-o", str(up), "--scale", *factor]) == 0
    a, lr, b = read_volume(same), read_volume(low), read_volume(up)
    assert lr.shape == (3, 9, 15) and a.shape == b.shape == (3, 18, 30)
    np.testing.assert_allclose(b.affine, a.affine, atol=1e-5)
    np.testing.assert_allclose(b.array, a.array, rtol=0, atol=2e-5 * np.abs(a.array).max())
    # and the truncation did something: both are the low band, not the input
    assert np.abs(a.array[0] - hr).max() > 0.5
    d, h, w = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in hr.shape), indexing="ij")
    u, v = 2 * np.pi * h / 18, 2 * np.pi * w / 30
    band = 10.0 + 2.0 * np.cos(2 * u + 0.3) + 1.5 * np.sin(3 * v + 1.1) + 0.5 * np.cos(u - v)
    np.testing.assert_allclose(a.array[0], band + 0.3 * d, atol=1e-4)


def test_what_separates_them_otherwise_is_the_sign_the_magnitude_drops() -> None:
    # a sharp edge: the truncated image rings below zero, the low-resolution magnitude flips it
    x = np.zeros((2, 10, 18))
    x[:, :, 9:] = 100.0
    same = truncate_kspace(x, spatial_dims=3, factor=FACTOR, keep_shape=True)
    magnitude = truncate_kspace(x, spatial_dims=3, factor=FACTOR, keep_shape=False)
    signed = truncate_kspace(x, spatial_dims=3, factor=FACTOR, keep_shape=False, magnitude=False)
    assert magnitude.shape == (2, 5, 9) and signed.min() < -1.0
    from_file = zero_fill_upsample(magnitude, scale=FACTOR)  # what baseline zero-filled does
    assert np.abs(from_file - same).max() > 1.0
    np.testing.assert_allclose(np.abs(zero_fill_upsample(signed, scale=FACTOR)), same, atol=1e-4)


@pytest.mark.parametrize("n", [16, 20])
def test_even_kept_count_loses_the_unpaired_line(n: int) -> None:
    # M = n / 2 is even: the same-grid image keeps the line k = -M/2 alone (complex image, then
    # magnitude); the M-point grid folds it into its Nyquist sample, which the baseline splits
    rng = np.random.default_rng(0)
    x = 50.0 + rng.standard_normal((2, 6, n))
    f = (1, 1, 2)
    same = truncate_kspace(x, spatial_dims=3, factor=f, keep_shape=True)
    signed = truncate_kspace(x, spatial_dims=3, factor=f, keep_shape=False, magnitude=False)
    assert signed.min() > 0  # no sign is lost here
    assert np.abs(zero_fill_upsample(signed, scale=f) - same).max() > 1e-2
    # without the -M/2 line the two agree
    spec = np.fft.fft(x, axis=-1)
    spec[..., n // 4] = spec[..., -(n // 4)] = 0.0
    y = np.fft.ifft(spec, axis=-1).real
    same = truncate_kspace(y, spatial_dims=3, factor=f, keep_shape=True)
    low = truncate_kspace(y, spatial_dims=3, factor=f, keep_shape=False)
    np.testing.assert_allclose(zero_fill_upsample(low, scale=f), same, atol=1e-4)
