"""Brain tissue Dice (``tissue-dice``): a 3-class intensity mixture fitted once on the reference,
a Potts MRF on top, Dice of CSF, GM and WM, on a synthetic head phantom with known classes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.metrics import evaluate_volumes, format_table, get_protocol
from medsr.metrics.masks import foreground_mask
from medsr.metrics.protocols import TissueDiceProtocol
from medsr.metrics.tissue_dice import (
    DEFAULT_STD_FLOOR,
    dice_per_class,
    fit_intensity_mixture,
    segment,
    tissue_dice,
)
from medsr.report.tables import format_value, higher_is_better, metric_header
from medsr.volume import Volume
from tests._phantoms import shells

CSF, GM, WM = 0.3, 0.6, 0.9
KEYS = {"dice_csf", "dice_gm", "dice_wm", "dice_mean"}


def _phantom(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, image)``: 0 background, 1 CSF shell, 2 GM shell, 3 WM core, with a CSF
    ventricle in the core and a CSF gap (a sulcus) cut into the GM shell."""
    g, labels = shells(n, (0.9, 0.75, 0.55))
    labels = labels.astype(np.uint8)
    r = np.sqrt((g**2).sum(axis=0))
    labels[(r < 0.25) & (g[2] > 0)] = 1
    labels[(np.abs(r - 0.65) < 0.05) & (g[2] < -0.3)] = 1
    return labels, np.array([0.0, CSF, GM, WM])[labels]


def _noisy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return image + np.random.default_rng(seed).normal(0.0, sigma, image.shape)


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, np.ndarray]:
    return _phantom()


def test_clean_phantom_is_segmented_exactly_and_scores_one(phantom) -> None:
    labels, image = phantom
    mask = foreground_mask(image)
    assert np.array_equal(mask, labels > 0)
    mixture = fit_intensity_mixture(image[mask])
    np.testing.assert_allclose(mixture.means, (CSF, GM, WM), atol=1e-3)
    assert np.array_equal(segment(image, mask, mixture), labels)
    out = get_protocol("tissue-dice").evaluate(image, image)
    assert out == dict.fromkeys(KEYS, 1.0)


def test_a_candidate_equal_to_the_reference_scores_exactly_one(phantom) -> None:
    _, image = phantom
    ref = _noisy(image, 0.08, seed=1)  # a noisy reference: the segmentation is not the truth
    out = get_protocol("tissue-dice").evaluate(ref.copy(), ref)
    assert set(out) == KEYS
    assert all(v == 1.0 for v in out.values())


def test_dice_falls_monotonically_with_candidate_noise(phantom) -> None:
    _, image = phantom
    ref = _noisy(image, 0.03, seed=2)
    proto = get_protocol("tissue-dice")
    rows = [proto.evaluate(_noisy(ref, s, seed=3), ref) for s in (0.05, 0.1, 0.15, 0.2, 0.3)]
    for key in KEYS:
        values = [row[key] for row in rows]
        assert all(a > b for a, b in itertools.pairwise(values)), (key, values)
    assert rows[0]["dice_mean"] > 0.98 and rows[-1]["dice_mean"] < 0.75


def test_the_mrf_raises_dice_at_moderate_noise(phantom) -> None:
    labels, image = phantom
    ref = _noisy(image, 0.05, seed=4)
    pred = _noisy(ref, 0.1, seed=5)
    mask = foreground_mask(image)
    plain = tissue_dice(pred, ref, mask, beta=0.0)
    mrf = tissue_dice(pred, ref, mask)
    assert mrf["dice_mean"] > plain["dice_mean"] + 0.02
    assert all(mrf[k] > plain[k] for k in KEYS)
    # and the MRF labels of the noisy reference are closer to the truth
    mixture = fit_intensity_mixture(ref[mask])
    assert tissue_dice(pred, ref, mask, iterations=0) == plain
    err_plain = np.mean(segment(ref, mask, mixture, beta=0.0)[mask] != labels[mask])
    err_mrf = np.mean(segment(ref, mask, mixture)[mask] != labels[mask])
    assert err_mrf < 0.5 * err_plain


def test_a_class_of_one_value_does_not_collapse_the_mixture(phantom) -> None:
    """FreeSurfer's intensity normalisation sets white matter to exactly one value (110 in the
    held-out S1): without the span floor the WM component has zero width and a candidate off
    that value by 1 % of the span loses the class."""
    labels, image = phantom
    rng = np.random.default_rng(6)
    ref = np.where(labels == 3, WM, image + rng.normal(0.0, 0.04, image.shape))
    ref = np.where(labels == 0, 0.0, ref)
    pred = np.where(labels == 0, 0.0, ref + rng.normal(0.0, 0.006, ref.shape))
    mask = labels > 0
    mixture = fit_intensity_mixture(ref[mask])
    span = np.subtract(*np.percentile(ref[mask], [99, 1]))
    assert mixture.stds[2] == pytest.approx(DEFAULT_STD_FLOOR * span, rel=0.05)
    assert tissue_dice(pred, ref, mask)["dice_wm"] > 0.95
    collapsed = fit_intensity_mixture(ref[mask], std_floor=1e-6)
    assert collapsed.stds[2] < 1e-3 * span  # what the floor prevents
    assert tissue_dice(pred, ref, mask)["dice_wm"] > _dice_wm_with(collapsed, pred, ref, mask) + 0.3


def _dice_wm_with(mixture, pred, ref, mask) -> float:
    return dice_per_class(segment(pred, mask, mixture), segment(ref, mask, mixture), 3)[2]


def test_the_candidate_is_judged_by_the_reference_classifier(phantom) -> None:
    # a candidate refitted on its own would keep its labels under a brightness change;
    # with the reference's mixture the change moves voxels across classes
    _, image = phantom
    ref = _noisy(image, 0.03, seed=6)
    out = get_protocol("tissue-dice").evaluate(1.25 * ref, ref)
    assert out["dice_mean"] < 0.9


def test_deterministic_2d_and_singleton_axes(phantom) -> None:
    _, image = phantom
    ref = _noisy(image, 0.05, seed=7)
    pred = _noisy(ref, 0.08, seed=8)
    proto = get_protocol("tissue-dice")
    first = proto.evaluate(pred, ref)
    assert proto.evaluate(pred, ref) == first
    assert proto.evaluate(pred[None], ref[None]) == first  # (1, D, H, W) is the volume
    flat = proto.evaluate(pred[24], ref[24])  # a 2D slice, 4-neighbourhood
    assert set(flat) == KEYS and 0.5 < flat["dice_mean"] < 1.0


def test_dice_per_class_ignores_label_zero_and_counts_empty_classes_as_agreement() -> None:
    ref = np.array([0, 1, 1, 2, 2, 0])
    pred = np.array([1, 1, 2, 2, 2, 0])
    # class 1: ref {1, 2}, pred {0, 1} -> 2 * 1 / 4; class 2: ref {3, 4}, pred {2, 3, 4} -> 4 / 5
    # class 3 is empty in both -> 1
    assert dice_per_class(pred, ref, 3) == [0.5, 0.8, 1.0]


def test_degenerate_inputs_are_errors() -> None:
    proto = get_protocol("tissue-dice")
    flat = np.zeros((16, 16, 16))
    flat[4:12, 4:12, 4:12] = 1.0  # one intensity inside the mask: three classes cannot be fitted
    with pytest.raises(ValueError, match="at least 3 distinct intensities"):
        proto.evaluate(flat, flat)
    with pytest.raises(ValueError, match="differs from reference shape"):
        proto.evaluate(flat[:, :, :15], flat)
    with pytest.raises(ValueError, match="beta and iterations"):
        segment(flat, flat > 0, fit_intensity_mixture(np.arange(5.0)), beta=-1.0)


def test_registered_not_an_image_metric_protocol_and_formatted(phantom) -> None:
    proto = get_protocol("tissue-dice")
    assert isinstance(proto, TissueDiceProtocol) and proto.description
    assert proto.mask == "foreground" and proto.classes == ("csf", "gm", "wm")
    for key in KEYS:
        assert higher_is_better(key)
    assert metric_header("dice_gm") == "Dice GM ↑"
    assert format_value("dice_wm", 1.0) == "1.0000"
    _, image = phantom
    ref = _noisy(image, 0.03, seed=9)
    vols = [Volume.from_array(a.astype(np.float32)) for a in (_noisy(ref, 0.1, 10), ref)]
    (row,) = evaluate_volumes([vols[0]], [vols[1]], protocol="tissue-dice", method="x")
    assert row.protocol == "tissue-dice" and set(row.metrics) == KEYS
    table = format_table([row])
    assert "Dice CSF" in table and "Dice mean" in table


def test_cli_evaluate_prints_the_dice_table_and_writes_it(
    phantom, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nib = pytest.importorskip("nibabel")
    _, image = phantom
    ref = _noisy(image, 0.03, seed=11).astype(np.float32)
    pred = _noisy(ref, 0.1, seed=12).astype(np.float32)
    paths = []
    for name, array in (("pred.nii.gz", pred), ("sub01.nii.gz", ref)):
        nib.save(nib.Nifti1Image(array, np.eye(4)), str(tmp_path / name))
        paths.append(str(tmp_path / name))
    out = tmp_path / "res"
    argv = ["evaluate", paths[0], "--ref", paths[1], "--protocol", "tissue-dice"]
    assert main([*argv, "brain-mask", "--method", "mine", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "protocol tissue-dice:" in text
    for label in ("Dice CSF", "Dice GM", "Dice WM", "Dice mean", "PSNR"):
        assert label in text
    doc = json.loads((out / "metrics.json").read_text())
    rows = {c["protocol"]: c["metrics"] for c in doc["cases"]}
    assert set(rows["tissue-dice"]) == KEYS and "psnr" in rows["brain-mask"]
    # the reader reorders the axes; Dice does not depend on the axis order
    expected = get_protocol("tissue-dice").evaluate(pred, ref)
    for key in KEYS:
        assert rows["tissue-dice"][key] == pytest.approx(expected[key], abs=1e-12)
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header == "case,method,protocol,psnr,ssim,nrmse,mae,hfen," + ",".join(
        ("dice_csf", "dice_gm", "dice_wm", "dice_mean")
    )
    same = ["evaluate", paths[1], "--ref", paths[1], "--protocol", "tissue-dice"]
    assert main(same) == 0
    assert capsys.readouterr().out.count("1.0000 +- 0.0000") == 4
