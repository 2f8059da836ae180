"""DFGAN trains on data in the seed's layout: a pickled ``.npy`` dict ``{'f_nd', 'f_qd'}`` of
``(H, W, N)`` arrays of linear attenuation (1/mm), with ``HU = (mu - 0.0192) * 1000 / 0.0192``.

The files are written here (no such data ships in a package): a small elliptical phantom with
fat, soft tissue and bone in HU, its quarter-dose copy with extra noise, both converted to mu and
stacked slice-last.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config import load_config
from medsr.errors import ConfigError
from medsr.train import train_from_config
from medsr.train.build import build_networks
from medsr.train.data import build_dataset, build_val_cases, resolve_sources

from .conftest import TINY

MU_WATER = 0.0192


def _phantom_hu(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``(H, W, N)`` HU: air, a fat-rimmed soft-tissue ellipse and a bone disc moving per slice."""
    yy, xx = np.mgrid[:size, :size] / (size - 1) * 2.0 - 1.0
    out = np.full((size, size, n), -1000.0)
    for k in range(n):
        img = np.full((size, size), -1000.0)
        img[(xx / 0.9) ** 2 + (yy / 0.75) ** 2 < 1] = -100.0  # fat
        img[(xx / 0.8) ** 2 + (yy / 0.65) ** 2 < 1] = 50.0  # soft tissue
        cx = -0.3 + 0.3 * k
        img[(xx - cx) ** 2 + (yy - 0.1) ** 2 < 0.04] = 700.0 + 100.0 * k  # bone
        out[:, :, k] = img + rng.normal(0.0, 5.0, img.shape)
    return out


def _write_seed_file(path: Path, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hu_nd = _phantom_hu(n, size, rng)
    hu_qd = hu_nd + rng.normal(0.0, 60.0, hu_nd.shape)
    to_mu = lambda hu: (MU_WATER * (1.0 + hu / 1000.0)).astype(np.float32)  # noqa: E731
    np.save(path, {"f_nd": to_mu(hu_nd), "f_qd": to_mu(hu_qd)}, allow_pickle=True)
    return hu_nd


def _overrides(train: Path, val: Path) -> list[str]:
    src = ["format=paired_ct", "attenuation=true", "slice_axis=2"]
    return [
        "data.mode=paired",
        "data.degradation=null",
        f"data.train.0.scan={train}",
        *(f"data.train.0.{o}" for o in src),
        f"data.val.0.scan={val}",
        "data.val.0.region=null",
        *(f"data.val.0.{o}" for o in src),
        "data.augment.flip=false",
        "data.augment.rot90=false",
        "train.steps=3",
        "val.every=3",
        "checkpoint.every=3",
        "checkpoint.keep_last=5",
    ]


@pytest.fixture
def seed_files(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    train, val = tmp_path / "trainset.npy", tmp_path / "validset.npy"
    hu_train = _write_seed_file(train, n=3, size=48, seed=0)
    hu_val = _write_seed_file(val, n=2, size=48, seed=1)
    return train, val, hu_train, hu_val


def test_seed_layout_is_read_as_hu_slices(
    seed_files: tuple[Path, Path, np.ndarray, np.ndarray],
) -> None:
    train, val, hu_train, hu_val = seed_files
    cfg = load_config(TINY / "dfgan.yaml", overrides=_overrides(train, val))
    train_src, val_src = resolve_sources(cfg)
    ds = build_dataset(cfg, train_src)
    (subj,) = ds.subjects
    assert subj.hq.shape == (1, 3, 48, 48)  # N slices of (H, W)
    for k in range(3):
        np.testing.assert_allclose(subj.hq[0, k], hu_train[:, :, k], atol=0.05)
    sample = ds[(0, 0)]
    noise_hu = ((sample["x_lq"] - sample["x_hq"]) * 4096.0).std()  # hu-window of 4096 HU
    assert 40.0 < float(noise_hu) < 80.0  # the stored quarter-dose noise (60 HU)
    cases = build_val_cases(cfg, val_src)
    assert [c.hq.shape for c in cases] == [(1, 48, 48)]  # one val slice, whole
    k = int(cases[0].name.rsplit(":z", 1)[1])
    np.testing.assert_allclose(cases[0].hq[0], hu_val[:, :, k], atol=0.05)


def test_tiny_dfgan_trains_on_the_seed_layout(
    seed_files: tuple[Path, Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    train, val, _, _ = seed_files
    cfg = load_config(TINY / "dfgan.yaml", overrides=_overrides(train, val))
    before = build_networks(cfg, torch.device("cpu"))
    result = train_from_config(cfg, tmp_path / "run", progress=False)
    assert result.steps == 3
    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in lines if "event" not in r]
    losses = [v for r in steps for k, v in r.items() if k.startswith(("g_", "d_"))]
    assert len(steps) == 3 and losses and all(math.isfinite(v) for v in losses)
    final = load_checkpoint(result.last_checkpoint).train_state  # type: ignore[arg-type]
    assert final is not None
    for role in ("generator", "discriminator"):
        old, new = before[role].state_dict(), final["networks"][role]
        assert any(v.is_floating_point() and not torch.equal(v, old[k]) for k, v in new.items()), (
            f"{role} did not change"
        )


def test_attenuation_without_paired_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format: paired_ct"):
        load_config(TINY / "dfgan.yaml", overrides=["data.train.0.attenuation=true"])
