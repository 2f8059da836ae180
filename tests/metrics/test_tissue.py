"""Quantitative CT: mean HU per tissue class on a synthetic phantom (0 shift for the identity,
the exact shift for an offset), masks thresholded on the reference and eroded, and the
``ct-tissue-hu`` protocol through the evaluation API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr.config import load_config
from medsr.errors import ConfigError
from medsr.metrics import evaluate_volumes, get_protocol
from medsr.metrics.tissue import tissue_hu_shift, tissue_masks
from medsr.volume import Volume

TINY_DFGAN = Path(__file__).resolve().parents[2] / "configs" / "tiny" / "dfgan.yaml"
FAT, MUSCLE, BONE = -100.0, 50.0, 700.0


def _phantom(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, hu)``: 0 air, 1 fat rim, 2 muscle, 3 bone disc; ``hu`` with 10 HU noise."""
    yy, xx = np.mgrid[:n, :n] / (n - 1) * 2.0 - 1.0
    labels = np.zeros((n, n), dtype=int)
    labels[(xx / 0.95) ** 2 + (yy / 0.8) ** 2 < 1] = 1
    labels[(xx / 0.7) ** 2 + (yy / 0.55) ** 2 < 1] = 2
    labels[(xx - 0.2) ** 2 + yy**2 < 0.04] = 3
    hu = np.array([-1000.0, FAT, MUSCLE, BONE])[labels]
    return labels, hu + np.random.default_rng(0).normal(0.0, 10.0, hu.shape)


def test_identity_moves_nothing() -> None:
    _, ref = _phantom()
    out = tissue_hu_shift(ref, ref)
    assert {k for k in out if k.endswith("_shift")} == {"fat_shift", "muscle_shift", "bone_shift"}
    assert all(out[k] == 0.0 for k in ("fat_shift", "muscle_shift", "bone_shift"))
    assert out["contrast_change"] == 0.0
    assert out["fat_ref"] == pytest.approx(FAT, abs=2.0)
    assert out["muscle_ref"] == pytest.approx(MUSCLE, abs=2.0)
    assert out["bone_ref"] == pytest.approx(BONE, abs=2.0)
    assert out["contrast_ref"] == pytest.approx(MUSCLE - FAT, abs=3.0)


def test_a_uniform_offset_is_the_shift_of_every_class() -> None:
    _, ref = _phantom()
    out = tissue_hu_shift(ref + 12.5, ref)
    for k in ("fat_shift", "muscle_shift", "bone_shift"):
        assert out[k] == pytest.approx(12.5, abs=1e-9)
    assert out["contrast_change"] == pytest.approx(0.0, abs=1e-9)


def test_per_tissue_offsets_and_a_lost_contrast_are_measured_exactly() -> None:
    # the dfgan-ct-qd pattern of issue 12: fat up, muscle and bone down, contrast cut
    labels, ref = _phantom()
    pred = ref + np.array([0.0, 17.0, -39.0, -38.0])[labels]
    out = tissue_hu_shift(pred, ref)
    assert out["fat_shift"] == pytest.approx(17.0, abs=1e-9)
    assert out["muscle_shift"] == pytest.approx(-39.0, abs=1e-9)
    assert out["bone_shift"] == pytest.approx(-38.0, abs=1e-9)
    assert out["contrast_change"] == pytest.approx(-56.0, abs=1e-9)
    squeezed = tissue_hu_shift(ref * 0.8, ref)  # a contrast scaled by 0.8
    assert squeezed["contrast_change"] == pytest.approx(-0.2 * out["contrast_ref"], rel=1e-9)


def test_masks_are_eroded_thresholds_of_the_reference() -> None:
    ref = np.full((12, 12), -1000.0)
    ref[2:10, 2:10] = 40.0  # an 8x8 muscle square
    raw = tissue_masks(ref, erosion=0, smooth=0.0)
    assert raw["muscle"].sum() == 64 and raw["fat"].sum() == 0 and raw["bone"].sum() == 0
    eroded = tissue_masks(ref, erosion=1, smooth=0.0)["muscle"]
    assert eroded.sum() == 36 and eroded[3:9, 3:9].all()  # one voxel off every side
    vol = tissue_masks(np.stack([ref, ref]), erosion=1, smooth=0.0)["muscle"]
    assert vol.sum() == 72  # in-plane only: both slices keep their 6x6 core


def test_no_tissue_is_an_error() -> None:
    with pytest.raises(ValueError, match="no fat, muscle, bone region"):
        tissue_hu_shift(np.full((16, 16), -1000.0), np.full((16, 16), -1000.0))
    with pytest.raises(ValueError, match="shape"):
        tissue_hu_shift(np.zeros((4, 4)), np.zeros((4, 5)))


def test_protocol_through_evaluate_volumes_on_a_volume() -> None:
    labels, ref = _phantom()
    pred = ref + np.where(labels == 2, -20.0, 0.0)
    vols = [Volume.from_array(np.stack([a, a]).astype(np.float32)) for a in (pred, ref)]
    (row,) = evaluate_volumes([vols[0]], [vols[1]], protocol="ct-tissue-hu", method="x")
    assert row.protocol == "ct-tissue-hu" and get_protocol("ct-tissue-hu").description
    assert row.metrics["muscle_shift"] == pytest.approx(-20.0, abs=1e-3)
    assert row.metrics["fat_shift"] == pytest.approx(0.0, abs=1e-3)
    assert row.metrics["contrast_change"] == pytest.approx(-20.0, abs=1e-3)


def test_it_is_refused_as_a_validation_protocol() -> None:
    with pytest.raises(ConfigError, match="tissue HU"):
        load_config(TINY_DFGAN, overrides=["val.protocol=ct-tissue-hu"])
