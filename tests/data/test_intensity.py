"""CT window handling shared by inference and validation."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.data.intensity import HU_FLOOR, HU_PADDING, IntensityNorm


def test_clip_for_network_keeps_noisy_air_and_bounds_the_extremes() -> None:
    ct = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    hu = np.array([-32768.0, -3024.0, -1400.0, -1024.0, 0.0, 3072.0, 4000.0])
    unit, _ = ct.forward(hu)
    back = ct.inverse(ct.clip_for_network(unit), {})
    # noisy air (-1400) and the usual padding (-3024) as training shows them; int16 minima raised
    # to the floor, metal clipped to the window
    np.testing.assert_allclose(
        back, [HU_FLOOR, -3024.0, -1400.0, -1024.0, 0.0, 3072.0, 3072.0], atol=0.01
    )
    narrow = IntensityNorm(kind="hu-window", lo=-4000.0, hi=1000.0)  # lo below the floor: kept
    u, _ = narrow.forward(np.array([-4000.0, 2000.0]))
    np.testing.assert_allclose(narrow.clip_for_network(u), [0.0, 1.0])
    mri = IntensityNorm(kind="minmax")
    values = np.array([-2.0, 0.5, 7.0], dtype=np.float32)
    np.testing.assert_array_equal(mri.clip_for_network(values.copy()), values)


def test_outside_window_hu_pass_through_on_the_same_grid() -> None:
    ct = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    original = np.array(
        [[-3024.0, -500.0, -1300.0], [40.0, 3500.0, HU_PADDING - 1]], dtype=np.float32
    )
    out = np.full_like(original, 7.0)
    assert ct.pass_outside_window(out, original) == 3
    # padding and metal pass through; noisy air below -1024 HU is the network's to denoise
    np.testing.assert_array_equal(out, [[-3024.0, 7.0, 7.0], [7.0, 3500.0, HU_PADDING - 1]])
    other = np.zeros((4, 4), dtype=np.float32)
    assert ct.pass_outside_window(other, original) == 0  # a different grid: nothing to copy
    assert IntensityNorm(kind="percentile").pass_outside_window(out, original) == 0


def test_validation_handles_the_ct_window_like_inference() -> None:
    import torch

    from medsr.train.data import ValCase
    from medsr.train.validate import predict_case

    ct = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    lq = np.full((4, 6, 6), 40.0, dtype=np.float32)
    lq[0] = -3024.0  # outside-FOV padding
    lq[1, 0, 0] = 3600.0  # metal
    seen: list[torch.Tensor] = []

    def identity(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x

    case = ValCase(name="ct", hq=lq.copy(), lq=lq, state={})
    pred = predict_case(
        identity, case, norm=ct, spatial_dims=3, scale=(1, 1, 1), window=(4, 6, 6),  # type: ignore[arg-type]
        device=torch.device("cpu"), amp_dtype=None,
    )  # fmt: skip
    assert min(float(t.min()) for t in seen) == pytest.approx(
        (-3024.0 + 1024.0) / 4096.0
    )  # as trained
    assert max(float(t.max()) for t in seen) <= 1.0
    np.testing.assert_allclose(pred, lq, atol=1e-3)  # padding and metal passed through


def test_minmax_symmetric_maps_to_minus_one_one_and_back() -> None:
    norm = IntensityNorm(kind="minmax-symmetric")
    x = np.array([[3.0, 5.0], [9.0, 11.0]], dtype=np.float32)
    unit, state = norm.forward(x)
    np.testing.assert_allclose(unit, [[-1.0, -0.5], [0.5, 1.0]])
    assert state == {"offset": 7.0, "scale": 4.0}
    np.testing.assert_allclose(norm.inverse(unit, state), x)
    assert IntensityNorm.from_dict(norm.to_dict()) == norm
    flat, flat_state = norm.forward(np.full((2, 2), 4.0, dtype=np.float32))
    np.testing.assert_allclose(norm.inverse(flat, flat_state), 4.0)


def test_to_dict_keeps_the_fields_the_kind_uses() -> None:
    from medsr.data.intensity import IntensityNorm

    assert IntensityNorm(kind="percentile", q=99.0).to_dict() == {"kind": "percentile", "q": 99.0}
    hu = IntensityNorm(kind="hu-window", lo=-160.0, hi=240.0)
    assert hu.to_dict() == {"kind": "hu-window", "lo": -160.0, "hi": 240.0}
    assert IntensityNorm(kind="minmax").to_dict() == {"kind": "minmax"}
    for norm in (hu, IntensityNorm(kind="percentile", q=99.0), IntensityNorm(kind="minmax")):
        assert IntensityNorm.from_dict(norm.to_dict()) == norm
