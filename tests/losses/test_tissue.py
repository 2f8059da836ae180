"""TissueMeanLoss against the `ct-tissue-hu` protocol's own numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medsr.losses import LOSSES, TissueMeanLoss
from medsr.metrics.tissue import tissue_hu_shift

LO, HI = -1024.0, 3072.0


def _phantom(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 64^2 slice with fat, muscle and bone blocks (+ noise), and a candidate shifted per class."""
    rng = np.random.default_rng(seed)
    ref = np.full((64, 64), -1000.0)
    ref[4:30, 4:60] = -100.0  # fat
    ref[34:60, 4:30] = 50.0  # muscle
    ref[34:60, 34:60] = 700.0  # bone
    ref += rng.normal(0.0, 8.0, ref.shape)
    pred = ref + rng.normal(0.0, 20.0, ref.shape)
    pred[ref < -50] += 7.0  # air and fat brighter
    pred[(ref > 20) & (ref < 80)] -= 3.0
    pred[ref > 300] -= 12.0
    return ref, pred


def _units(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((a - LO) / (HI - LO)).astype(np.float32))


def test_matches_the_protocol_on_each_patch() -> None:
    refs, preds = zip(*(_phantom(s) for s in (0, 1)))
    want = []
    for r, p in zip(refs, preds):
        shifts = tissue_hu_shift(p, r)
        want += [(shifts[f"{c}_shift"] / 10.0) ** 2 for c in ("fat", "muscle", "bone")]
    pred = torch.stack([_units(p) for p in preds])[:, None]
    ref = torch.stack([_units(r) for r in refs])[:, None]
    got = TissueMeanLoss()(pred, ref)
    assert float(got) == pytest.approx(float(np.mean(want)), rel=2e-3)
    assert 0.3 < float(got) < 1.0  # shifts of about +7, -3, -12 HU


def test_gradient_moves_only_class_pixels_and_3d_patches_group_their_slices() -> None:
    ref, pred = _phantom(2)
    x = _units(pred)[None, None].repeat(1, 1, 1, 1).requires_grad_(True)
    y = _units(ref)[None, None]
    loss = LOSSES.build("tissue_mean")(x, y)
    loss.backward()
    g = x.grad[0, 0].numpy()
    assert np.all(g[ref < -500] == 0.0)  # air is no class
    assert np.abs(g[10:20, 10:50]).min() > 0  # inside the fat block
    # a 3D patch of two identical slices has the 2D patch's class means
    x3 = torch.stack([_units(pred), _units(pred)])[None, None]
    y3 = torch.stack([_units(ref), _units(ref)])[None, None]
    assert float(TissueMeanLoss()(x3, y3)) == pytest.approx(float(loss.detach()), rel=1e-4)


def test_no_class_in_a_patch_gives_zero_with_a_gradient() -> None:
    air = torch.full((2, 1, 32, 32), 0.0, requires_grad=True)
    loss = TissueMeanLoss()(air, torch.zeros(2, 1, 32, 32))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert air.grad is not None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="hi > lo"):
        TissueMeanLoss(lo=0.0, hi=0.0)
    with pytest.raises(ValueError, match="low < high"):
        TissueMeanLoss(classes=[("fat", -50.0, -150.0)])
    with pytest.raises(ValueError, match="shape"):
        TissueMeanLoss()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
