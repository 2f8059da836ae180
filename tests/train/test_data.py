"""Training data: intensity states come from the low-quality input, as at inference."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.config import load_config
from medsr.train import data
from tests.train.conftest import CONFIGS


@pytest.mark.parametrize("level", ["volume", "sample"])
def test_percentile_state_is_measured_on_the_low_quality_input(level: str) -> None:
    cfg = load_config(
        CONFIGS / "tiny" / "mdcsrn_wgangp.yaml", overrides=[f"data.degradation.level={level}"]
    )
    norm = data.intensity_of(cfg)
    assert norm.kind == "percentile"
    train, _ = data.resolve_sources(cfg)
    subjects = data.build_subjects(cfg, train, need_lq=True)
    degrader = data.degrader_of(cfg)
    assert degrader is not None
    for i, subj in enumerate(subjects):
        hq_state = norm.forward(subj.hq)[1]
        if subj.lq:  # cached realization (volume level)
            lq = subj.lq[0]
        else:  # sample level: one whole-volume degradation made for the state
            rng = np.random.default_rng([cfg.seed, data._STATE_TAG, i])
            lq = data._degrade_whole(cfg, degrader, subj, rng)
        assert subj.state == norm.forward(lq)[1]
        assert subj.state["scale"] != pytest.approx(hq_state["scale"], rel=1e-6)
