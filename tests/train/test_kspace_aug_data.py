"""The per-patch k-space augmentation option: a ``kspace_aug_choice`` stage at
``data.degradation.level: sample`` gives every training patch its own draw among the choices."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.config import load_config
from medsr.data import catalogue
from medsr.data.datasets import to_network
from medsr.degrade import kspace_aug1_blend, kspace_aug3_shift
from medsr.errors import ConfigError
from medsr.train import data
from tests.train.conftest import TINY

ABS = "zero_lines: 6, reference_lines: null"
CHOICES = (
    f"[{{name: kspace_aug3_shift, kwargs: {{{ABS}}}}}, "
    f"{{name: kspace_aug1_blend, kwargs: {{{ABS}, blend_low: 1, blend_high: 1}}}}]"
)
OVERRIDES = [
    "data.degradation.level=sample",
    f"data.degradation.stages=[{{name: kspace_aug_choice, kwargs: {{spatial_dims: 3, choices: {CHOICES}}}}}]",
    "data.augment.flip=false",
    "data.augment.rot90=false",
]


def test_each_patch_gets_one_of_the_choices() -> None:
    cfg = load_config(TINY / "mdcsrn_wgangp.yaml", overrides=OVERRIDES)
    train, _ = data.resolve_sources(cfg)
    if not all(catalogue.is_installed(s.scan) for s in train):
        pytest.skip("catalogue scans not installed")
    ds = data.build_dataset(cfg, train)
    norm, state = data.intensity_of(cfg), ds.subjects[0].state
    rng = np.random.default_rng(0)  # unused by the deterministic candidates
    kw = {"spatial_dims": 3, "zero_lines": 6, "reference_lines": None}
    picked = []
    for index in range(12):
        item = ds[(0, index)]
        hq = norm.inverse(item["x_hq"].numpy(), state)  # the crop in scanner units
        candidates = [
            kspace_aug3_shift(hq, **kw),
            kspace_aug1_blend(hq, rng=rng, blend_low=1, blend_high=1, **kw),
        ]
        lq = item["x_lq"].numpy()
        hits = [
            i
            for i, c in enumerate(candidates)
            if np.allclose(lq, to_network(c, norm, state), rtol=1e-4, atol=1e-4)
        ]
        assert len(hits) == 1, f"patch {index} matches {hits}"
        picked.append(hits[0])
    assert set(picked) == {0, 1}  # the choice is made per patch


def test_a_bad_choice_is_refused_at_load() -> None:
    bad = [o.replace("kspace_aug3_shift", "kspace_aug3") for o in OVERRIDES]
    with pytest.raises(ConfigError, match="unknown degradation 'kspace_aug3'"):
        load_config(TINY / "mdcsrn_wgangp.yaml", overrides=bad)
