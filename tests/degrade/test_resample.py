"""Area, antialiased bicubic and nearest decimation against direct references (numpy loops, torch)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medsr.degrade.resample import decimate, downsample_area, downsample_bicubic, output_length
from medsr.errors import ConfigError


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _area_loops(x: np.ndarray, factor: tuple[int, ...], remainder: str) -> np.ndarray:
    """Mean over each (possibly partial) block, one block at a time."""
    n = len(factor)
    sizes = x.shape[-n:]
    outs = [output_length(s, f, remainder=remainder) for s, f in zip(sizes, factor)]  # type: ignore[arg-type]
    out = np.empty((*x.shape[:-n], *outs))
    for idx in itertools.product(*(range(m) for m in outs)):
        block = tuple(slice(i * f, min((i + 1) * f, s)) for i, f, s in zip(idx, factor, sizes))
        out[(Ellipsis, *idx)] = x[(Ellipsis, *block)].mean(axis=tuple(range(-n, 0)))
    return out


@pytest.mark.parametrize(
    ("shape", "factor"),
    [((16, 16), (2, 2)), ((2, 17, 23), (3, 2)), ((13, 10, 11), (2, 3, 4)), ((9, 8, 7), (1, 4, 3))],
)
@pytest.mark.parametrize("remainder", ["crop", "pad"])
def test_area_matches_block_means(shape, factor, remainder) -> None:
    x = _image(shape)
    out = downsample_area(x, spatial_dims=len(factor), factor=factor, remainder=remainder)
    np.testing.assert_allclose(out, _area_loops(x, factor, remainder), rtol=1e-6, atol=1e-7)


def test_area_equals_reshape_mean_when_divisible() -> None:
    x = _image((12, 18, 20))
    ref = x.reshape(6, 2, 6, 3, 5, 4).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(downsample_area(x, spatial_dims=3, factor=(2, 3, 4)), ref, rtol=1e-6)


@pytest.mark.parametrize(
    ("shape", "factor"), [((64, 64), (2, 2)), ((45, 63), (3, 2)), ((33, 40), (4, 4))]
)
def test_bicubic_matches_torch_antialias(shape, factor) -> None:
    x = _image((2, *shape), seed=1)
    out = downsample_bicubic(x, spatial_dims=2, factor=factor)
    ref = F.interpolate(
        torch.from_numpy(x)[None].double(),
        scale_factor=tuple(1.0 / f for f in factor),
        mode="bicubic",
        antialias=True,
        align_corners=False,
    )[0].numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_bicubic_factor_one_is_identity_and_constants_survive_in_3d() -> None:
    x = _image((9, 10, 11))
    np.testing.assert_allclose(downsample_bicubic(x, spatial_dims=3, factor=1), x, atol=1e-7)
    c = np.full((13, 10, 7), 3.5, np.float32)
    out = downsample_bicubic(c, spatial_dims=3, factor=(2, 3, 4), remainder="pad")
    assert out.shape == (7, 4, 2)
    np.testing.assert_allclose(out, 3.5, rtol=1e-6)


def test_bicubic_suppresses_aliasing_where_decimation_does_not() -> None:
    # A checkerboard (the highest frequency) must vanish when downsampled by 2 with antialiasing.
    x = (np.indices((32, 32)).sum(axis=0) % 2).astype(np.float32)
    assert np.ptp(downsample_bicubic(x, spatial_dims=2, factor=2)[4:-4, 4:-4]) < 1e-6
    assert np.ptp(decimate(x, spatial_dims=2, factor=(1, 2))) == 1.0


def test_decimate_takes_every_fth_voxel() -> None:
    x = _image((2, 11, 13, 9))
    np.testing.assert_array_equal(
        decimate(x, spatial_dims=3, factor=(1, 2, 3)), x[..., :, ::2, ::3]
    )
    np.testing.assert_array_equal(
        decimate(x, spatial_dims=3, factor=(2, 2, 3), offset=(1, 0, 2)), x[..., 1::2, ::2, 2::3]
    )
    np.testing.assert_array_equal(decimate(x, spatial_dims=2, factor=1), x)


def test_bad_factors_and_offsets_raise() -> None:
    x = _image((8, 8))
    with pytest.raises(ConfigError, match="positive integers"):
        downsample_area(x, spatial_dims=2, factor=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="1 or 2"):
        downsample_area(x, spatial_dims=2, factor=(2, 2, 2))
    with pytest.raises(ConfigError, match="offset"):
        decimate(x, spatial_dims=2, factor=2, offset=2)
    with pytest.raises(ConfigError, match="shorter"):
        downsample_bicubic(x, spatial_dims=2, factor=16)
    assert downsample_area(x, spatial_dims=2, factor=16, remainder="pad").shape == (1, 1)
    assert math.isclose(
        float(downsample_area(x, spatial_dims=2, factor=16, remainder="pad")[0, 0]),
        float(x.mean()),
        rel_tol=1e-6,
    )
