"""Volume-level baselines: registry, geometry of the output, argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.baselines import BASELINES, run_baseline
from medsr.errors import ConfigError
from medsr.geometry import fov_corners
from medsr.volume import Volume


def _volume(shape: tuple[int, int, int] = (4, 6, 5)) -> Volume:
    rng = np.random.default_rng(0)
    affine = np.array(
        [[0.0, 0.0, -0.9, 20.0], [0.0, 0.8, 0.0, -5.0], [2.5, 0.0, 0.0, 3.0], [0, 0, 0, 1.0]]
    )
    return Volume(
        array=rng.random((1, *shape)).astype(np.float32),
        spacing=(2.5, 0.8, 0.9),
        affine=affine,
        modality="MR",
        meta={"path": "x.nii.gz"},
    )


def test_registry_lists_every_baseline_once() -> None:
    assert BASELINES.names() == sorted(
        ["nearest", "linear", "cubic", "zero-filled", "identity", "nlm", "bilateral", "bm3d"]
    )
    assert {BASELINES.get(n).task for n in ("nearest", "linear", "cubic", "zero-filled")} == {
        "upsample"
    }
    assert all(BASELINES.get(n).description for n in BASELINES.names())


@pytest.mark.parametrize("name", ["nearest", "linear", "cubic", "zero-filled"])
def test_upsampling_keeps_the_field_of_view(name: str) -> None:
    vol = _volume()
    out = run_baseline(name, vol, scale=(1, 2, 3))
    assert out.array.shape == (1, 4, 12, 15) and out.array.dtype == np.float32
    np.testing.assert_allclose(out.spacing, (2.5, 0.4, 0.3))
    np.testing.assert_allclose(
        fov_corners(out.affine, out.shape), fov_corners(vol.affine, vol.shape), atol=1e-9
    )
    assert out.meta["baseline"] == {"name": name, "scale": [1, 2, 3]}
    assert "baseline" not in vol.meta and out.meta["path"] == "x.nii.gz"


def test_nearest_volume_equals_repeat_per_channel() -> None:
    vol = Volume.from_array(np.random.default_rng(1).random((2, 3, 4, 5)).astype(np.float32))
    out = run_baseline("nearest", vol, scale=2)
    np.testing.assert_array_equal(out.array, vol.array.repeat(2, 1).repeat(2, 2).repeat(2, 3))


def test_2d_image_int_scale_refines_in_plane_only() -> None:
    vol = Volume.from_array(np.random.default_rng(2).random((12, 10)).astype(np.float32))
    out = run_baseline("cubic", vol, scale=2)
    assert out.shape == (1, 24, 20)
    with pytest.raises(ConfigError, match="2D"):
        run_baseline("cubic", vol, scale=(2, 2, 2))


def test_denoisers_keep_the_grid_and_refuse_a_scale() -> None:
    vol = _volume()
    out = run_baseline("identity", vol)
    np.testing.assert_array_equal(out.array, vol.array)
    np.testing.assert_array_equal(out.affine, vol.affine)
    with pytest.raises(ConfigError, match="takes no scale"):
        run_baseline("identity", vol, scale=2)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'cubic'"):
        run_baseline("cubik", _volume(), scale=2)
