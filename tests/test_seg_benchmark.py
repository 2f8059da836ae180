"""The segmentation benchmarks of issue 15: ``benchmarks/tissue_dice.py`` (cases grouped by input,
the card rows) and ``benchmarks/seg_augment.py`` (patches, a short U-Net training, Dice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests._phantoms import load_script, shells

ROOT = Path(__file__).resolve().parents[1]


tissue = load_script("benchmarks/tissue_dice.py")
cards = load_script("scripts/model_cards.py")


def test_models_with_one_input_share_a_case() -> None:
    keys = {m: tissue.case_key(m) for m in ("mdcsrn-t1-k2-psnr", "mdcsrn-t1-k2", "srgan-t1-x2")}
    assert keys["mdcsrn-t1-k2-psnr"] == keys["mdcsrn-t1-k2"] != keys["srgan-t1-x2"]
    trio = {tissue.case_key(m) for m in ("disgan-t1-x2-psnr", "disgan-t1-x2", "threeplayer-t1-x2")}
    assert len(trio) == 1
    assert tissue.case_key("esrgan-t1-x4") not in trio | set(keys.values())


def _scores(d: float) -> dict:
    dice = {"dice_csf": d, "dice_gm": d, "dice_wm": d, "dice_mean": d}
    return {
        "scores": {"tissue-dice": dice, "brain-mask": {"psnr": 30 * d, "ssim": d, "hfen": 1 - d}}
    }


def test_card_rows_hold_the_case_baselines_and_only_that_model() -> None:
    res = {
        "mask": {"brain_voxels": 10, "brain_fraction": 0.1},
        "threads": 2,
        "cases": {
            "a+b": {
                "models": ["a", "b"], "shape": [4, 4, 4],
                "methods": {"cubic": _scores(0.8), "a": _scores(0.9), "b": _scores(0.95)},
            }
        },
    }  # fmt: skip
    rows = cards.card_tissue_block("b", res)
    text = "\n".join(rows)
    assert "| cubic | 0.8000" in text and "| b | 0.9500" in text and "| a |" not in text
    assert cards.card_tissue_block("c", res) == []
    table = "\n".join(cards.tissue_dice_block(res))
    assert "| a | 0.9000" in table and "**a, b**" in table


monai = pytest.importorskip("monai")
seg = load_script("benchmarks/seg_augment.py")


def _phantom(n: int, seed: int) -> dict:
    _, labels = shells(n, (0.9, 0.7, 0.4))
    image = np.array([0.0, 0.3, 0.6, 0.9])[labels]
    image = image + np.random.default_rng(seed).normal(0, 0.03, image.shape)
    return {"id": f"p{seed}", "image": seg.normalised(image, labels > 0), "labels": labels}


def test_patches_keep_image_and_labels_aligned_and_padded() -> None:
    item = _phantom(20, 0)
    rng = np.random.default_rng(1)
    for _ in range(5):
        img, lab = seg.sample_patch(item, 24, rng)  # larger than the volume: zero-padded
        assert img.shape == lab.shape == (24, 24, 24)
        assert (lab > 0).any()
        # the flips moved image and labels together: the classes keep their intensity order
        medians = [float(np.median(img[lab == k])) for k in (1, 2, 3) if (lab == k).any()]
        assert medians == sorted(medians) and len(medians) >= 2
        assert float(np.abs(img[lab == 0]).max()) == 0.0  # background: outside the brain


@pytest.mark.slow
def test_a_short_training_learns_the_classes_and_is_seeded() -> None:
    import torch

    torch.set_num_threads(1)
    train_item, test_item = _phantom(32, 1), _phantom(32, 2)
    kw = {"steps": 100, "batch": 2, "patch": 24, "lr": 2e-3}
    net = seg.train([[train_item]], seed=0, **kw)
    dice = seg.dice_on(net, test_item, test_item["labels"], roi=24)
    assert dice["dice_mean"] > 0.8, dice
    again = seg.train([[train_item]], seed=0, **kw)
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)
