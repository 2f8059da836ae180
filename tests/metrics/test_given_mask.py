"""A mask given by the user (a brain mask of a whole-head scan) replaces the reference's
foreground in the masked protocols: ``Protocol.evaluate(..., mask)``, ``evaluate_volumes(masks=)``
and ``medsr evaluate --mask``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medsr.cli.main import main
from medsr.errors import InputError
from medsr.metrics import evaluate_volumes, get_protocol
from medsr.volume import Volume


def _head() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ref, pred, brain)``: a bright 'scalp' shell around a 3-class 'brain'; the prediction is
    exact inside the brain and wrong on the scalp."""
    n = 40
    g = (np.indices((n, n, n)) - (n - 1) / 2) / (n / 2)
    r = np.sqrt((g**2).sum(axis=0))
    rng = np.random.default_rng(0)
    brain = r < 0.6
    ref = np.zeros((n, n, n))
    ref[brain] = rng.choice([0.3, 0.6, 0.9], size=int(brain.sum()))
    scalp = (r > 0.75) & (r < 0.9)
    ref[scalp] = 1.0
    pred = ref.copy()
    pred[scalp] = 0.5
    return ref, pred, brain


def test_a_given_mask_replaces_the_foreground_in_masked_protocols() -> None:
    ref, pred, brain = _head()
    proto = get_protocol("brain-mask")
    inside = proto.evaluate(pred, ref, brain.astype(np.uint8))
    assert inside["mae"] == 0.0 and inside["psnr"] == float("inf")
    whole = proto.evaluate(pred, ref)  # the foreground takes the scalp in
    assert whole["mae"] > 0.0 and np.isfinite(whole["psnr"])
    dice = get_protocol("tissue-dice").evaluate(pred, ref, brain)
    assert dice["dice_mean"] == 1.0
    # a protocol without a mask ignores it
    unit = get_protocol("unit-range")
    assert unit.evaluate(pred, ref, brain) == unit.evaluate(pred, ref)


def test_a_wrong_or_empty_mask_is_an_error() -> None:
    ref, pred, brain = _head()
    proto = get_protocol("brain-mask")
    with pytest.raises(ValueError, match="mask shape"):
        proto.evaluate(pred, ref, brain[:-1])
    with pytest.raises(ValueError, match="empty"):
        proto.evaluate(pred, ref, np.zeros_like(brain))
    vols = [Volume.from_array(a.astype(np.float32)) for a in (pred, ref, brain[:-1])]
    with pytest.raises(InputError, match="mask"):
        evaluate_volumes([vols[0]], [vols[1]], protocol="brain-mask", method="m", masks=[vols[2]])


def test_cli_evaluate_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, pred, brain = _head()
    files = {}
    for name, array in (("pred", pred), ("ref", ref), ("brain", brain), ("bad", brain[:-2])):
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], array.astype(np.float32))
    out = tmp_path / "res"
    base = ["evaluate", str(files["pred"]), "--ref", str(files["ref"])]
    argv = [*base, "--protocol", "brain-mask", "tissue-dice", "--out", str(out)]
    assert main([*argv, "--mask", str(files["brain"])]) == 0
    rows = {
        c["protocol"]: c["metrics"] for c in json.loads((out / "metrics.json").read_text())["cases"]
    }
    assert rows["brain-mask"]["mae"] == 0.0 and rows["tissue-dice"]["dice_mean"] == 1.0
    capsys.readouterr()
    # one mask per reference, on its grid: a one-line error naming the file, exit 2, no output
    two = [*base, "--protocol", "brain-mask", "--mask", str(files["brain"]), str(files["brain"])]
    assert main(two) == 2
    assert "--mask" in capsys.readouterr().err
    bad_out = tmp_path / "bad-res"
    bad = [*base, "--protocol", "brain-mask", "--mask", str(files["bad"]), "--out", str(bad_out)]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.npy" in err and "mask shape" in err
    assert not bad_out.exists() or not any(bad_out.iterdir())
