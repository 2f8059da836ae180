"""Recipes choose their weights on training-side scans: no held-out ("test") or measurement scan
of the catalogue is a validation source, and no validation scan is also trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsr.config import load_config
from medsr.data import catalogue

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: Recipes moved off held-out validation (issue 12); the others are listed in the issue note.
CHECKED = ("srgan_x3", "dfgan", "attn_dfgan")


@pytest.mark.parametrize("name", CHECKED)
def test_validation_uses_training_side_scans_only(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    roles = {e.name: e.role for e in catalogue.entries()}
    val = [s.scan for s in cfg.data.val]
    assert val, f"{name} has no validation scans"
    assert all(roles.get(scan) == "train" for scan in val), {s: roles.get(s) for s in val}
    trained = {s.scan for s in cfg.data.train}
    assert not trained & set(val)
    modalities = {next(e.modality for e in catalogue.entries() if e.name == s) for s in val}
    assert modalities == ({"CT"} if "dfgan" in name else {"MR", "XR"})
