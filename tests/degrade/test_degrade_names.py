"""One name per degradation (issue 14): the registry, the whole-volume kinds, ``medsr degrade
--kind`` and the docs use the canonical names; the older spellings are aliases of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.zoo import BUNDLED, bundled_path
from medsr.cli.main import build_parser, main
from medsr.degrade import DEGRADATIONS, DegradationPipeline
from medsr.degrade.apply import VOLUME_KINDS, degrade_volume, kind_parameters
from medsr.degrade_names import (
    ALIASES,
    CANONICAL,
    FAMILIES,
    NOT_VOLUME_LEVEL,
    VOLUME_LEVEL,
    canonical_name,
    resolve,
)
from medsr.errors import ConfigError
from medsr.io import read_volume, write_volume
from medsr.memory import degrade_plan
from medsr.volume import Volume

DOCS = Path(__file__).resolve().parents[2] / "docs" / "degradations.md"

#: Every old ``--kind`` spelling with flags, and the canonical name it stands for.
OLD_SPELLINGS = [
    ("kspace", ["--factor", "1", "2", "2"], "kspace_truncate"),
    (
        "kspace",
        ["--edge-divisor", "inf", "2.5", "2.5", "--keep-shape"],
        "kspace_truncate_zero_edges",
    ),
    ("kspace-gaussian", ["--sigma", "0.2"], "kspace_gaussian"),
    ("downsample", ["--factor", "2"], "downsample_area"),
    ("downsample", ["--factor", "2", "--method", "area"], "downsample_area"),
    ("downsample", ["--factor", "2", "--method", "bicubic"], "downsample_bicubic"),
    ("thickness", ["--thickness", "3", "--spacing", "3"], "slice_thickness"),
    ("gaussian", ["--sigma", "0.1"], "gaussian_noise"),
    ("rician", ["--sigma", "0.1"], "rician_noise"),
    ("poisson-gaussian", ["--gain", "0.01", "--sigma", "0.01"], "poisson_gaussian_noise"),
    ("rician-noise", ["--sigma", "0.1"], "rician_noise"),  # hyphens for underscores
    ("downsample-bicubic", ["--factor", "2"], "downsample_bicubic"),
]


def _canonical(arr: np.ndarray, spacing: tuple[float, float, float], **kw) -> Volume:
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = (*spacing, 1.0)
    return Volume(array=arr[None], spacing=spacing, affine=affine, **kw)


@pytest.fixture
def mr(tmp_path: Path) -> Path:
    arr = np.random.default_rng(0).random((8, 24, 24)).astype(np.float32) * 100.0
    return write_volume(_canonical(arr, (1.5, 1.0, 1.0)), tmp_path / "mr.nii.gz")


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    r = np.hypot(*(np.mgrid[:32, :32] - 15.5))
    hu = np.where(r < 13, 40.0, -1000.0)[None].repeat(2, axis=0).astype(np.float32)
    return write_volume(
        _canonical(hu, (2.0, 0.5, 0.5), modality="CT", unit="HU"), tmp_path / "ct.nii.gz"
    )


def test_registry_volume_kinds_and_names_agree() -> None:
    assert set(DEGRADATIONS.names()) == CANONICAL
    assert not set(VOLUME_LEVEL) & set(NOT_VOLUME_LEVEL)
    assert tuple(VOLUME_KINDS) == VOLUME_LEVEL


def test_every_registry_name_is_a_kind_or_documented_as_not_volume_level() -> None:
    parser = build_parser()
    docs = DOCS.read_text(encoding="utf-8")
    for name in DEGRADATIONS.names():
        if name in VOLUME_LEVEL:
            args = parser.parse_args(["degrade", "in.npy", "-o", "out.npy", "--kind", name])
            assert args.kind == name and f"| `{name}` |" in docs, name
        else:
            assert f"`{name}`" in docs and NOT_VOLUME_LEVEL[name], name
            with pytest.raises(SystemExit):
                parser.parse_args(["degrade", "in.npy", "-o", "out.npy", "--kind", name])
            with pytest.raises(ConfigError, match="no whole-volume form"):
                kind_parameters(name)


def test_help_lists_the_canonical_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["degrade", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in VOLUME_LEVEL:
        assert name in text, name
    for alias in ALIASES:  # and the older spellings, as such
        assert f" {alias}," in text or f" {alias} and" in text, alias


def test_every_alias_maps_to_its_canonical_name() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for alias, name in ALIASES.items():
        assert name in VOLUME_LEVEL and canonical_name(alias) == name, alias
        assert resolve(alias)[0] == name and f"`{alias}`" in docs, alias
    for name in CANONICAL:
        assert canonical_name(name) == name == canonical_name(name.replace("_", "-"))
    assert canonical_name("blur") is None and set(FAMILIES) <= set(ALIASES)
    assert resolve("kspace", {"edge_divisor": 4, "factor": 2, "keep_shape": True}) == (
        "kspace_truncate_zero_edges",
        {"edge_divisor": 4, "keep_shape": True},
    )
    old_sidecar = {"edge_divisor": None, "factor": 2.0, "keep_shape": False, "window": "none"}
    assert resolve("kspace", old_sidecar) == (
        "kspace_truncate",
        {"factor": 2.0, "keep_shape": False, "window": "none"},
    )
    assert resolve("downsample", {"factor": 2, "method": "bicubic"}) == (
        "downsample_bicubic",
        {"factor": 2},
    )
    assert resolve("downsample", {"factor": 2}) == ("downsample_area", {"factor": 2})
    with pytest.raises(ConfigError, match="downsampling method"):
        resolve("downsample", {"method": "lanczos"})
    with pytest.raises(ConfigError, match="unknown degradation kind 'blur'"):
        resolve("blur")


def test_library_aliases_give_the_canonical_result() -> None:
    arr = np.random.default_rng(1).random((1, 4, 12, 10)).astype(np.float32)
    vol = Volume(array=arr, spacing=(1.0, 1.0, 1.0), affine=np.eye(4))
    for alias, params, name, canon_params in [
        ("rician", {"sigma": 0.1}, "rician_noise", {"sigma": 0.1}),
        ("kspace", {"edge_divisor": 4.0, "factor": 9}, "kspace_truncate_zero_edges", {"edge_divisor": 4.0}),
        ("downsample", {"factor": 2, "method": "bicubic"}, "downsample_bicubic", {"factor": 2}),
    ]:  # fmt: skip
        a = degrade_volume(vol, kind=alias, rng=np.random.default_rng(0), params=params)
        b = degrade_volume(vol, kind=name, rng=np.random.default_rng(0), params=canon_params)
        np.testing.assert_array_equal(a.array, b.array)
    with pytest.raises(ConfigError, match="no parameter"):
        params = {"factor": 2, "method": "bicubic"}
        degrade_volume(vol, kind="downsample_area", rng=np.random.default_rng(0), params=params)
    with pytest.raises(ConfigError, match="needs parameter"):
        degrade_volume(vol, kind="kspace_truncate_zero_edges", rng=np.random.default_rng(0))
    assert (
        degrade_plan(["kspace"]).bytes_per_voxel
        == degrade_plan(["kspace_truncate"]).bytes_per_voxel
    )
    assert degrade_plan(["lowdose-ct"]).bytes_per_voxel > degrade_plan(["decimate"]).bytes_per_voxel


def test_configs_name_stages_canonically() -> None:
    with pytest.raises(ConfigError, match="canonical name 'rician_noise'"):
        DegradationPipeline([("rician", {"sigma": 0.1})])
    with pytest.raises(ConfigError, match="canonical name 'lowdose_ct'"):
        DegradationPipeline([("lowdose-ct", {})])


@pytest.mark.parametrize(("spelling", "flags", "name"), OLD_SPELLINGS)
def test_old_spellings_run_and_the_sidecar_records_the_canonical_name(
    mr: Path, tmp_path: Path, spelling: str, flags: list[str], name: str
) -> None:
    old, new = tmp_path / "old.nii.gz", tmp_path / "new.nii.gz"
    assert main(["degrade", str(mr), "-o", str(old), "--kind", spelling, *flags]) == 0
    record = json.loads((tmp_path / "old.json").read_text())
    assert record["kind"] == name
    canon_flags = [f for f in flags if f not in ("--method", "area", "bicubic")]
    assert main(["degrade", str(mr), "-o", str(new), "--kind", name, *canon_flags]) == 0
    np.testing.assert_array_equal(read_volume(old).array, read_volume(new).array)
    assert json.loads((tmp_path / "new.json").read_text())["parameters"] == record["parameters"]


def test_method_belongs_to_the_old_spelling_only(mr: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.nii.gz"
    argv = ["degrade", str(mr), "-o", str(out), "--kind", "downsample_area", "--factor", "2"]
    assert main([*argv, "--method", "bicubic"]) == 2
    assert "--method does not apply to --kind downsample_area" in capsys.readouterr().err


@pytest.mark.parametrize("model", sorted(BUNDLED))
def test_like_works_for_every_bundled_model(
    mr: Path, ct: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    recorded = load_checkpoint(bundled_path(model)).config["data"]["degradation"]
    names = [st["name"] for st in recorded["stages"]]
    src = ct if names == ["lowdose_ct"] else mr
    out = tmp_path / "lq.nii.gz"
    code = main(["degrade", str(src), "-o", str(out), "--like", model, "--quiet"])
    if recorded["units"] == "network":  # relative noise levels: refused with the reason
        assert code == 2 and "network units" in capsys.readouterr().err
        return
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "lq.json").read_text())
    assert record["kind"] == "+".join(names) and set(names) <= set(VOLUME_LEVEL)
    assert record["like"]["model"] == model and record["like"]["recorded"] == recorded
