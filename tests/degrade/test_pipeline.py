"""The composable pipeline: per-stage child generators, JSON spec round trip, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medsr.degrade import DEGRADATIONS, DegradationPipeline, Stage
from medsr.degrade.pipeline import child_generators
from medsr.errors import ConfigError

STAGES = [
    ("kspace_truncate", {"spatial_dims": 2, "factor": [1.0, 2.0]}),
    ("rician_noise", {"sigma": 0.05}),
    ("downsample_area", {"spatial_dims": 2, "factor": 2, "remainder": "pad"}),
    ("gaussian_noise", {"sigma": 0.01}),
]


def _x() -> np.ndarray:
    return np.random.default_rng(0).random((3, 21, 18)).astype(np.float32)


def test_pipeline_equals_manual_application_with_spawned_children() -> None:
    out = DegradationPipeline(STAGES)(_x(), rng=np.random.default_rng(5))
    kids = np.random.default_rng(5).spawn(len(STAGES))
    ref = DEGRADATIONS.get("kspace_truncate")(_x(), spatial_dims=2, factor=[1.0, 2.0])
    ref = DEGRADATIONS.get("rician_noise")(ref, rng=kids[1], sigma=0.05)
    ref = DEGRADATIONS.get("downsample_area")(ref, spatial_dims=2, factor=2, remainder="pad")
    ref = DEGRADATIONS.get("gaussian_noise")(ref, rng=kids[3], sigma=0.01)
    assert out.shape == (3, 11, 9)
    np.testing.assert_array_equal(out, ref)


def test_spec_round_trips_through_json() -> None:
    pipe = DegradationPipeline(STAGES)
    spec = json.loads(json.dumps(pipe.spec()))
    assert [s["name"] for s in spec["stages"]] == [name for name, _ in STAGES]
    again = DegradationPipeline.from_spec(spec)
    np.testing.assert_array_equal(
        again(_x(), rng=np.random.default_rng(1)), pipe(_x(), rng=np.random.default_rng(1))
    )
    other = pipe(_x(), rng=np.random.default_rng(2))
    assert not np.array_equal(other, pipe(_x(), rng=np.random.default_rng(1)))


def test_empty_pipeline_and_stage_objects() -> None:
    np.testing.assert_array_equal(DegradationPipeline([])(_x(), rng=np.random.default_rng(0)), _x())
    pipe = DegradationPipeline([Stage("decimate", {"spatial_dims": 2, "factor": 3})])
    np.testing.assert_array_equal(pipe(_x(), rng=np.random.default_rng(0)), _x()[:, ::3, ::3])


@pytest.mark.parametrize(
    ("stages", "match"),
    [
        ([("kspace_truncat", {})], "did you mean"),
        ([("gaussian_noise", {"sigma": 0.1, "strength": 2})], "strength"),
        ([("gaussian_noise", {"sigma": 0.1, "rng": 3})], "rng"),
        ([("gaussian_noise", {"sigma": np.float32(0.1)})], "JSON"),
    ],
)
def test_bad_stages_raise(stages, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DegradationPipeline(stages)


def test_bad_spec_raises() -> None:
    with pytest.raises(ConfigError, match="stages"):
        DegradationPipeline.from_spec({"steps": []})
    with pytest.raises(ConfigError, match="name"):
        DegradationPipeline.from_spec({"stages": [{"kwargs": {}}]})


def test_child_generators_fall_back_to_drawn_seeds() -> None:
    class NoSpawn(np.random.Generator):
        def spawn(self, n_children: int) -> list[np.random.Generator]:
            raise TypeError("cannot spawn")

    a = child_generators(NoSpawn(np.random.PCG64(3)), 2)
    b = child_generators(NoSpawn(np.random.PCG64(3)), 2)
    assert [g.random() for g in a] == [g.random() for g in b]
    assert a[0].random() != a[1].random()


def test_with_pixel_size_fills_only_stages_that_take_it_and_leave_it_unset() -> None:
    from medsr.degrade.pipeline import with_pixel_size

    stages = [
        ("lowdose_ct", {"dose": 0.25}),
        ("lowdose_ct", {"dose": 0.25, "pixel_size": 0.5}),
        ("gaussian_noise", {"sigma": 1.0}),
    ]
    got = with_pixel_size(stages, (5.0, 0.7, 0.9))
    assert got[0] == ("lowdose_ct", {"dose": 0.25, "pixel_size": 0.8})  # mean of H and W
    assert got[1][1]["pixel_size"] == 0.5  # set by the stage: kept
    assert got[2] == ("gaussian_noise", {"sigma": 1.0})
    assert "pixel_size" not in stages[0][1]  # the caller's stages are not changed
