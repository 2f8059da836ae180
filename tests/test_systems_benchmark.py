"""``benchmarks/systems.py`` (held-out cases of the models with their own degradation) and the
card tables ``scripts/model_cards.py`` renders from it."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from medsr.config.load import read_yaml
from medsr.data import Volume
from tests._phantoms import load_script

ROOT = Path(__file__).resolve().parents[1]


systems = load_script("benchmarks/systems.py")
cards = load_script("scripts/model_cards.py")


def test_held_out_scans_follow_the_training_modalities() -> None:
    brain = read_yaml(ROOT / "configs/bundled/esrgan_t1_x4.yaml")
    assert systems.held_out_scans(brain) == ["pycortex_s1"]
    both = read_yaml(ROOT / "configs/bundled/srgan_x3.yaml")  # trains on radiographs too
    assert systems.held_out_scans(both) == ["pycortex_s1", "xray_chest", "xray_tibia"]
    leaky = copy.deepcopy(brain)
    leaky["data"]["train"].append({"scan": "pycortex_s1"})
    with pytest.raises(RuntimeError, match="not a held-out scan"):
        systems.held_out_scans(leaky)


def test_network_unit_noise_is_made_as_in_training() -> None:
    """SRResCycGAN's Rician noise is relative to the scan's intensity scale (99.5th percentile)."""
    cfg = read_yaml(ROOT / "configs/bundled/srrescycgan_t1_x4.yaml")
    rng = np.random.default_rng(0)
    arr = np.zeros((4, 64, 64), np.float32)
    arr[:, 16:48, 16:48] = 500.0 + rng.normal(0, 5, (4, 32, 32))  # a bright square on air
    ref = Volume.from_array(arr, spacing=(1.0, 0.5, 0.5))
    low = systems.degraded(ref, cfg, [], (1, 4, 4))
    assert low.shape == (4, 16, 16) and low.spacing == (1.0, 2.0, 2.0)
    sigma = 0.02 * float(np.percentile(arr, 99.5))
    air = low.array[0, :, :2, :]  # far from the square: pure Rician noise of the zero signal
    rayleigh_mean = sigma * np.sqrt(np.pi / 2)
    assert abs(float(air.mean()) - rayleigh_mean) < 0.25 * rayleigh_mean
    again = systems.degraded(ref, cfg, [], (1, 4, 4))  # seeded
    np.testing.assert_array_equal(low.array, again.array)


def test_card_tables_group_modalities_and_show_tissue_shifts() -> None:
    def row(method: str, protocol: str, group: str, psnr: float) -> dict:
        m = {"psnr": psnr, "ssim": 0.9, "nrmse": 0.1, "hfen": 0.2}
        return {"method": method, "protocol": protocol, "n": 1, "group": group, "mean": m,
                "std": dict.fromkeys(m, 0.0)}  # fmt: skip

    tissue = {"fat_shift": -3.0, "fat_ref": -100.0, "muscle_shift": 1.5, "muscle_ref": 40.0}
    res = {
        "cases": ["pycortex_s1-m", "xray_chest-m"],
        "source": "benchmarks/systems.py",
        "summary": [
            row("cubic", "unit-range", "brain MRI", 30.0),
            row("m", "unit-range", "brain MRI", 31.0),
            row("cubic", "unit-range", "radiographs", 35.0),
            row("m", "unit-range", "radiographs", 34.0),
            {
                "method": "m",
                "protocol": "ct-tissue-hu",
                "n": 2,
                "mean": tissue,
                "std": dict.fromkeys(tissue, 1.0),
            },
        ],
    }
    text = "\n".join(cards.quality_block("m", {"models": {"m": res}}))
    assert "measured, `benchmarks/systems.py`" in text
    assert "Protocol `unit-range`, brain MRI:" in text
    assert "Protocol `unit-range`, radiographs:" in text
    assert "| **m** | 1 | **31.00" in text  # the best of its own group, bold
    assert "| cubic | 1 | **35.00" in text
    assert "| m | 2 | -3.0 +- 1.0 | +1.5 +- 1.0 |" in text  # shifts only, not the _ref means
