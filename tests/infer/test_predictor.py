"""Predictor: exact mode equals one full pass, blended seams bounded, slicing, units, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medsr.data.intensity import IntensityNorm, hu_to_unit, unit_to_hu
from medsr.errors import InputError
from medsr.infer.halo import exact_halo
from medsr.infer.predictor import ModalityWarning, Predictor
from medsr.volume import Volume

from ._models import MDCSRN_KW, SRRESNET2D_KW, build, rand, spec


@pytest.fixture(scope="module")
def mdcsrn() -> tuple[torch.nn.Module, tuple[int, ...]]:
    model = build("mdcsrn", MDCSRN_KW)
    return model, exact_halo(model, spatial_dims=3, in_channels=1, scale=(1, 1, 1))


@pytest.fixture(scope="module")
def srresnet2d() -> tuple[torch.nn.Module, tuple[int, ...]]:
    model = build("srresnet", SRRESNET2D_KW)
    return model, exact_halo(model, spatial_dims=2, in_channels=1, scale=(2, 2))


def _full3d(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


def _full2d(model: torch.nn.Module, x: np.ndarray, axis: int) -> np.ndarray:
    slices = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, axis + 1, 0)))
    with torch.no_grad():
        return np.moveaxis(model(slices).numpy(), 0, axis + 1)


def test_halo_is_measured_from_the_model(mdcsrn, srresnet2d) -> None:  # type: ignore[no-untyped-def]
    # tiny mDCSRN: stem + 2 blocks x 2 units of 3x3x3 convolutions -> radius 5
    assert mdcsrn[1] == (5, 5, 5)
    # SRResNet x2 at LR: 9x9 head (4) + 2 blocks x 2 conv3 (4) + body conv3 (1) + upsampling
    # conv3 (1) = 10; 9x9 tail at HR (4 HR = 2 LR) -> 12; + 1 for the sub-pixel phases
    assert srresnet2d[1] == (13, 13)


def test_exact_mdcsrn_equals_full_pass(mdcsrn) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    x = rand((1, 19, 23, 17))
    pred = Predictor(model, spec=spec(3, (1, 1, 1)), exact=True, window=(7, 8, 6), batch_size=3)
    y = pred.run_array(x)
    assert np.abs(y - _full3d(model, x)).max() <= 1e-5
    short = Predictor(model, spec=spec(3, (1, 1, 1)), exact=True, window=(7, 8, 6), halo=2)
    assert np.abs(short.run_array(x) - _full3d(model, x)).max() > 1e-4  # the check can fail


@pytest.mark.parametrize("axis", [0, 2])
def test_exact_srresnet_x2_slices_equal_full_pass(srresnet2d, axis: int) -> None:  # type: ignore[no-untyped-def]
    model, _ = srresnet2d
    x = rand((1, 6, 41, 33), seed=1)
    pred = Predictor(model, spec=spec(2, (1, 2, 2)), exact=True, window=16, axis=axis)
    y = pred.run_array(x)
    full = _full2d(model, x, axis)
    assert y.shape == full.shape
    assert np.abs(y - full).max() <= 1e-5


def test_blended_interior_is_close_to_full_pass(mdcsrn) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    x = rand((1, 24, 24, 24), seed=2)
    full = _full3d(model, x)
    err = {}
    for blend in ("gaussian", "constant"):
        p = Predictor(model, spec=spec(3, (1, 1, 1)), window=12, overlap=0.5, blend=blend)  # type: ignore[arg-type]
        err[blend] = float(np.abs(p.run_array(x) - full)[:, 5:-5, 5:-5, 5:-5].max())
    rel = err["gaussian"] / float(np.abs(full).max())
    # Stated tolerance (docs/inference.md): max error < 2 % of the output's max with Gaussian
    # blending at 50 % overlap and a window (12) about the receptive field (11); measured 1.46 %
    # (Hann 3.6 %, uniform weights 44 %).
    assert rel < 0.02
    assert err["gaussian"] < err["constant"]


def test_accumulate_float32_close_to_float64(mdcsrn) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    x = rand((1, 20, 18, 16), seed=3)
    kw = {"spec": spec(3, (1, 1, 1)), "window": 10, "overlap": 0.5}
    a = Predictor(model, **kw).run_array(x)  # type: ignore[arg-type]
    b = Predictor(model, accumulate_dtype=torch.float32, **kw).run_array(x)  # type: ignore[arg-type]
    assert 0 < np.abs(a - b).max() < 1e-5


def test_ct_units_are_hu_through_the_window(mdcsrn) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    hu = rand((1, 10, 12, 14), lo=-1000, hi=1500)
    norm = IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0)
    vol = Volume.from_array(hu[0], modality="CT", unit="HU")
    out = Predictor(model, spec=spec(3, (1, 1, 1), modality="CT", intensity=norm), window=32)(vol)
    expected = unit_to_hu(_full3d(model, hu_to_unit(hu)))
    assert out.unit == "HU" and out.modality == "CT"
    np.testing.assert_allclose(out.array, expected, rtol=0, atol=0.05)  # HU
    ident = Predictor(lambda t: t, spec=spec(3, (1, 1, 1), modality="CT", intensity=norm))(vol)
    np.testing.assert_allclose(ident.array, hu, rtol=0, atol=0.01)


def test_percentile_norm_is_undone() -> None:
    x = rand((1, 6, 9, 8), lo=0, hi=700)
    vol = Volume.from_array(x[0])
    out = Predictor(lambda t: 2 * t, spec=spec(3, (1, 1, 1), intensity=IntensityNorm()))(vol)
    np.testing.assert_allclose(out.array, 2 * x, rtol=1e-6)


def test_refuses_3d_model_on_2d_image_and_modality_mismatch() -> None:
    img = Volume.from_array(rand((16, 16)), meta={"path": "slice.png"})
    with pytest.raises(InputError, match="3D model"):
        Predictor(lambda t: t, spec=spec(3, (1, 1, 1)))(img)
    ct = Volume.from_array(rand((4, 8, 8)), modality="CT", meta={"path": "a", "Modality": "CT"})
    mr_model = Predictor(lambda t: t, spec=spec(3, (1, 1, 1), modality="MR"))
    with pytest.raises(InputError, match="modality CT differs"):
        mr_model(ct)
    with pytest.warns(ModalityWarning):
        out = mr_model(ct, force=True)
    assert out.meta["medsr_model"]["warnings"]
    # a NIfTI-like input records no modality: taken to be the model's
    assert mr_model(Volume.from_array(rand((4, 8, 8)), modality="CT")).modality == "MR"


@pytest.mark.parametrize("modality", ["MR", "CT"])
def test_bf16_close_to_fp32(mdcsrn, modality: str) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    if modality == "CT":
        x, norm = rand((12, 16, 16), lo=-1000, hi=1500), IntensityNorm(kind="hu-window")
    else:
        x, norm = rand((12, 16, 16), lo=0, hi=800), IntensityNorm(kind="percentile")
    vol = Volume.from_array(x, modality=modality)
    sp = spec(3, (1, 1, 1), modality=modality, intensity=norm)
    fp32 = Predictor(model, spec=sp, window=16)(vol).array
    bf16 = Predictor(model, spec=sp, window=16, amp_dtype=torch.bfloat16)(vol).array
    rel = np.abs(bf16 - fp32).max() / (np.abs(fp32).max())
    assert 0 < rel < 0.03  # bf16 has 8 mantissa bits; docs/inference.md records measured values


def test_hu_outside_the_model_window_passes_through() -> None:
    """Outside-FOV padding (-3024 HU) and metal above the window keep their input values; the
    network sees the window's edge instead (clipped), so padding does not leak into the body."""
    from medsr.artifact.spec import ModelSpec
    from medsr.data.intensity import IntensityNorm

    seen: list[float] = []

    def net(t: torch.Tensor) -> torch.Tensor:
        seen.append(float(t.min()))
        return t * 0.0 + 0.5  # a constant: 1024 HU with the window below

    spec = ModelSpec(
        name="const", modality="CT", spatial_dims=2, scale=(1, 1, 1), in_channels=1,
        out_channels=1, intensity=IntensityNorm(kind="hu-window", lo=-1024.0, hi=3072.0),
    )  # fmt: skip
    arr = np.full((1, 1, 8, 8), 40.0, dtype=np.float32)
    arr[0, 0, 0, :] = -3024.0
    arr[0, 0, 1, 0] = 3500.0
    vol = Volume.from_array(arr, spacing=(1.0, 0.5, 0.5), modality="CT", unit="HU")
    out = Predictor(net, spec=spec, window=8)(vol)
    assert min(seen) == pytest.approx(-2000.0 / 4096.0)  # padding as training shows it
    np.testing.assert_array_equal(out.array[0, 0, 0, :], -3024.0)
    assert out.array[0, 0, 1, 0] == 3500.0
    np.testing.assert_allclose(out.array[0, 0, 2:, :], 1024.0)
    assert out.meta["medsr_model"]["hu_passthrough_voxels"] == 9


def test_cpu_sub_batches_follow_the_measured_activation_size(srresnet2d) -> None:  # type: ignore[no-untyped-def]
    model, _ = srresnet2d
    x = rand((1, 5, 30, 26), seed=3)
    calls: list[int] = []
    base = Predictor(model, spec=spec(2, (1, 2, 2)), window=12, batch_size=4, cpu_chunk_bytes=0)
    ref = base.run_array(x)
    # the widest activation of SRResNet x2 (F=8) is the upsampling conv: 32 channels per LR voxel
    small = Predictor(
        model, spec=spec(2, (1, 2, 2)), window=12, batch_size=4, cpu_chunk_bytes=2 * 32 * 4 * 144
    )
    handle = small.net.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
    y = small.run_array(x)
    handle.remove()
    assert small._act_bytes == pytest.approx(32 * 4)  # bytes per input voxel, measured
    assert calls[0] == 1 and max(calls) == 2  # the probe window alone, then pairs
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)


def test_self_ensemble_averages_the_flipped_passes(mdcsrn, srresnet2d) -> None:  # type: ignore[no-untyped-def]
    model, _ = mdcsrn
    x = rand((1, 9, 11, 10), seed=5)
    ens = Predictor(model, spec=spec(3, (1, 1, 1)), exact=True, window=(9, 11, 10),
                    self_ensemble=True)  # fmt: skip
    want = np.zeros_like(x)
    for fd in (False, True):
        for fh in (False, True):
            for fw in (False, True):
                axes = tuple(a for a, f in zip((1, 2, 3), (fd, fh, fw), strict=True) if f)
                xf = np.ascontiguousarray(np.flip(x, axes)) if axes else x
                yf = _full3d(model, xf)
                want += np.flip(yf, axes) if axes else yf
    want /= 8
    got = ens.run_array(x)
    assert np.abs(got - want).max() <= 1e-5
    assert np.abs(got - _full3d(model, x)).max() > 1e-4  # a random net is not flip-equivariant
    assert ens.options()["self_ensemble"] is True
    # 2D models flip in their plane only: 4 passes, the slice axis untouched
    model2d, _ = srresnet2d
    x2 = rand((1, 3, 12, 14), seed=6)
    p2 = Predictor(model2d, spec=spec(2, (1, 2, 2)), exact=True, window=16, axis=0,
                   self_ensemble=True)  # fmt: skip
    assert p2.ensemble_axes() == (2, 3)
    want2 = sum(
        np.flip(_full2d(model2d, np.ascontiguousarray(np.flip(x2, a)) if a else x2, 0), a)
        if a else _full2d(model2d, x2, 0)
        for a in ((), (2,), (3,), (2, 3))
    ) / 4  # fmt: skip
    assert np.abs(p2.run_array(x2) - want2).max() <= 1e-5
    p_sag = Predictor(model2d, spec=spec(2, (1, 2, 2)), axis=2, self_ensemble=True)
    assert p_sag.ensemble_axes() == (1, 2)


def test_2d_default_tiles_with_balanced_windows_of_up_to_256(srresnet2d) -> None:  # type: ignore[no-untyped-def]
    model, _ = srresnet2d
    x = rand((1, 2, 256, 300), seed=5)

    def shapes(p: Predictor) -> list[tuple[int, ...]]:
        seen: list[tuple[int, ...]] = []
        h = p.net.register_forward_pre_hook(lambda _m, a: seen.append(tuple(a[0].shape[2:])))
        p.run_array(x)
        h.remove()
        return seen

    default = Predictor(model, spec=spec(2, (1, 2, 2)), batch_size=1, cpu_chunk_bytes=0)
    old = Predictor(model, spec=spec(2, (1, 2, 2)), window=128, batch_size=1, cpu_chunk_bytes=0)
    got, before = shapes(default), shapes(old)
    # 256 rows: one window; 300 columns: two of 166 overlapping by 32 (0.25 x 128); two slices
    assert got == [(256, 166)] * 4
    computed = sum(h * w for h, w in got)
    assert len(before) == 2 * 3 * 3 and computed < sum(h * w for h, w in before) / 1.7
