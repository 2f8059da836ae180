"""Nearest / linear / cubic interpolation: geometry convention, exactness and torch agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medsr.baselines.interpolate import interpolate, keys_weights, source_positions


def test_source_positions_keep_the_field_of_view() -> None:
    pos = source_positions(4, 2)
    np.testing.assert_allclose(pos, [-0.25, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25])
    # new voxel edges -0.5 and n*s - 0.5 map to old edges -0.5 and n - 0.5
    assert (-0.5 + 0.5) / 3 - 0.5 == -0.5 and (12 - 0.5 + 0.5) / 3 - 0.5 == 3.5


@pytest.mark.parametrize("scale", [(2, 2), (3, 1), (1, 2, 3), (2, 2, 1)])
def test_nearest_equals_repeat(scale: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).random((5, 7, 3)[: len(scale)])
    expected = x
    for axis, s in enumerate(scale):
        expected = np.repeat(expected, s, axis=axis)
    np.testing.assert_array_equal(interpolate(x, scale=scale, kind="nearest"), expected)


@pytest.mark.parametrize("kind", ["linear", "cubic"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_linear_ramp_is_reproduced_in_the_interior(kind: str, scale: int) -> None:
    n = 9
    d, h, w = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    x = 1.5 * d - 0.7 * h + 0.3 * w + 2.0
    out = interpolate(x, scale=scale, kind=kind)
    pos = source_positions(n, scale)
    pd, ph, pw = np.meshgrid(pos, pos, pos, indexing="ij")
    exact = 1.5 * pd - 0.7 * ph + 0.3 * pw + 2.0
    # interior: every tap inside the image (one old voxel of margin for cubic, half for linear)
    inner = slice(scale + scale // 2, n * scale - scale - scale // 2)
    np.testing.assert_allclose(out[inner, inner, inner], exact[inner, inner, inner], atol=1e-12)


def test_cubic_reproduces_a_quadratic_in_the_interior_and_linear_does_not() -> None:
    n, s = 12, 2
    x = 0.5 * np.arange(n, dtype=float) ** 2
    img = np.tile(x, (3, 1))
    pos = source_positions(n, s)
    inner = slice(4, n * s - 4)
    cubic = interpolate(img, scale=(1, s), kind="cubic")[0]
    np.testing.assert_allclose(cubic[inner], 0.5 * pos[inner] ** 2, atol=1e-12)
    linear = interpolate(img, scale=(1, s), kind="linear")[0]
    assert np.abs(linear[inner] - 0.5 * pos[inner] ** 2).max() > 0.05


def test_keys_weights_partition_unity_and_interpolate() -> None:
    t = np.linspace(0, 0.99, 50)
    np.testing.assert_allclose(keys_weights(t).sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(keys_weights(np.array([0.0]))[:, 0], [0, 1, 0, 0], atol=1e-15)


@pytest.mark.parametrize("shape", [(7, 9), (5, 6, 7)])
def test_linear_matches_torch_align_corners_false_including_edges(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).random(shape)
    scale = (2, 3) if len(shape) == 2 else (2, 1, 3)
    ours = interpolate(x, scale=scale, kind="linear")
    mode = "bilinear" if len(shape) == 2 else "trilinear"
    size = tuple(n * s for n, s in zip(shape, scale))
    ref = F.interpolate(torch.from_numpy(x)[None, None], size=size, mode=mode, align_corners=False)
    np.testing.assert_allclose(ours, ref[0, 0].numpy(), atol=1e-12)


def test_cubic_with_torch_parameter_matches_torch_bicubic() -> None:
    # torch's bicubic is Keys with a = -0.75 and replicated edge taps: same code path, other a
    x = np.random.default_rng(2).random((6, 8))
    ours = interpolate(x, scale=(2, 3), kind="cubic", a=-0.75)
    ref = F.interpolate(
        torch.from_numpy(x)[None, None], scale_factor=(2, 3), mode="bicubic", align_corners=False
    )
    np.testing.assert_allclose(ours, ref[0, 0].numpy(), atol=1e-12)


def test_constant_is_preserved_everywhere_and_dtype_kept() -> None:
    x = np.full((3, 4, 5), 7.0, dtype=np.float32)
    for kind in ("nearest", "linear", "cubic"):
        out = interpolate(x, scale=(1, 2, 3), kind=kind)
        assert out.shape == (3, 8, 15) and out.dtype == np.float32
        np.testing.assert_allclose(out, 7.0, rtol=1e-6)


def test_bad_arguments() -> None:
    x = np.zeros((4, 4))
    with pytest.raises(ValueError, match="kind"):
        interpolate(x, scale=2, kind="lanczos")
    with pytest.raises(ValueError, match="scale"):
        interpolate(x, scale=(2, 0), kind="linear")
    with pytest.raises(ValueError, match="2D or 3D"):
        interpolate(np.zeros(4), scale=2, kind="linear")
