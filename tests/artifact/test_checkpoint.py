"""Checkpoint format: round trip, refusal of foreign and executable files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.artifact.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from medsr.data.intensity import IntensityNorm, hu_to_unit, unit_to_hu
from medsr.errors import InputError


def _ckpt() -> Checkpoint:
    from medsr.models.generators import GENERATORS

    torch.manual_seed(0)
    kwargs = {"spatial_dims": 2, "scale": 2, "num_blocks": 2}
    model = GENERATORS.build("srresnet", **kwargs)
    return Checkpoint(
        model_name="srresnet",
        model_kwargs=kwargs,
        modality="MR",
        spatial_dims=2,
        scale=(1, 2, 2),
        intensity=IntensityNorm(kind="percentile", q=99.0),
        state_dict=model.state_dict(),
        config={"recipe": "test", "lr": 1e-4},
        train_state={"step": 3, "rng": torch.get_rng_state()},
    )


def test_round_trip_rebuilds_the_same_model(tmp_path: Path) -> None:
    ckpt = _ckpt()
    path = save_checkpoint(ckpt, tmp_path / "m.pt")
    back = load_checkpoint(path)
    assert back.model_name == "srresnet" and back.scale == (1, 2, 2)
    assert back.intensity == IntensityNorm(kind="percentile", q=99.0)
    x = torch.rand(1, 1, 12, 10, generator=torch.Generator().manual_seed(1))
    a = ckpt.build_model()(x)
    b = back.build_model()(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(Exception, match="already exists"):
        save_checkpoint(ckpt, path, overwrite=False)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_refuses_executable_pickle_and_foreign_files(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"format": "medsr-checkpoint", "payload": _Evil()}, evil)
    with pytest.raises(InputError, match="executable pickle"):
        load_checkpoint(evil)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InputError, match=r"raw\.pkl"):
        load_checkpoint(raw)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputError, match="not a medsr checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("kind", ["hu-window", "percentile", "minmax"])
def test_intensity_round_trip(kind: str) -> None:
    x = np.random.default_rng(0).uniform(-1000, 2000, (4, 5, 6)).astype(np.float32)
    norm = IntensityNorm(kind=kind)  # type: ignore[arg-type]
    y, state = norm.forward(x)
    np.testing.assert_allclose(norm.inverse(y, state), x, rtol=1e-5, atol=1e-2)
    assert IntensityNorm.from_dict(norm.to_dict()) == norm


def test_hu_window_values() -> None:
    np.testing.assert_allclose(hu_to_unit(np.array([-1024.0, 3072.0])), [0.0, 1.0])
    np.testing.assert_allclose(unit_to_hu(np.array([0.5]), lo=-160, hi=240), [40.0])
    with pytest.raises(ValueError, match="hi > lo"):
        IntensityNorm(kind="hu-window", lo=10, hi=0)
