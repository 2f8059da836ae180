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


#: Recipes allowed to validate on a held-out scan: none (the DFGAN retrain of issue 12 moved the
#: last one, whose session-3 model had validated on the held-out CT patients).
KNOWN_HELD_OUT_VALIDATION: set[str] = set()


@pytest.mark.parametrize(
    "path",
    sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.glob("*.yaml"))
    + sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.glob("bundled/*.yaml")),
)
def test_no_recipe_validates_on_a_held_out_scan(path: str) -> None:
    import yaml

    raw = yaml.safe_load((CONFIGS / path).read_text())
    held_out = {e.name for e in catalogue.entries() if e.role != "train"}
    val = {s["scan"] for s in raw.get("data", {}).get("val", []) or []}
    if path in KNOWN_HELD_OUT_VALIDATION:
        assert val & held_out, "fixed: drop it from KNOWN_HELD_OUT_VALIDATION"
        return
    assert not val & held_out, sorted(val & held_out)
