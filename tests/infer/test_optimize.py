"""Inference rewrites keep the model's function and never touch the caller's module."""

from __future__ import annotations

import math

import pytest
import torch

from medsr.infer.optimize import (
    CoarseGridConv,
    fold_batchnorm,
    prepare_for_inference,
)
from medsr.models.generators.mdcsrn_buffered import BufferedMDCSRN

from ._models import MDCSRN_KW, SRRESNET2D_KW, build


def test_batchnorm_folding_keeps_the_function() -> None:
    model = build("srresnet", SRRESNET2D_KW)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = prepare_for_inference(model, channels_last=True)
    x = torch.rand(2, 1, 13, 17, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, got = model(x), fast(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    for conv in (m for m in fast.modules() if isinstance(m, torch.nn.Conv2d)):
        # explicit channels-last strides, also for the one-input-channel head, whose weight
        # is "contiguous" in both formats: with NCHW strides oneDNN ran it channels-first and
        # every later layer paid a layout conversion (SRResNet 2D 25 % slower)
        assert conv.weight.stride()[1] == 1
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert n_bn == 0  # all 5 conv -> BN pairs folded (2 blocks x 2 + body)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_preactivation_batchnorm_is_left_alone() -> None:
    model = build("mdcsrn", MDCSRN_KW)
    assert fold_batchnorm(model) == 0  # BN -> ELU -> conv cannot be folded


@pytest.mark.parametrize(
    "kwargs",
    [
        MDCSRN_KW,
        {"growth": 3, "num_blocks": 3, "num_units": 2, "scale": (1, 2, 1)},
        {**MDCSRN_KW, "residual": True},
    ],
)
def test_buffered_mdcsrn_equals_the_model(kwargs: dict) -> None:  # type: ignore[type-arg]
    model = build("mdcsrn", kwargs)
    with torch.no_grad():  # a trained reconstruction (a residual one starts at zero)
        model.reconstruction.weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(2))
    fast = prepare_for_inference(model)
    assert isinstance(fast, BufferedMDCSRN)
    x = torch.rand(2, 1, 7, 9, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x)
        for _ in range(2):  # the second call reuses the workspace
            torch.testing.assert_close(fast(x), ref, rtol=1e-5, atol=1e-6)
        assert fast._work is not None  # the rewritten path ran, not the fallback
        torch.testing.assert_close(fast(x[1:]), ref[1:], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="MDCSRN"):
        fast(torch.rand(1, 2, 4, 4, 4))


def test_buffered_mdcsrn_uses_the_trained_batch_norm_statistics() -> None:
    model = build("mdcsrn", MDCSRN_KW)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm3d):
                bn.running_mean.uniform_(-0.5, 0.5, generator=gen)
                bn.running_var.uniform_(0.2, 3.0, generator=gen)
                bn.weight.uniform_(0.5, 1.5, generator=gen)
                bn.bias.uniform_(-0.5, 0.5, generator=gen)
    fast = prepare_for_inference(model)
    x = torch.rand(3, 1, 6, 5, 7, generator=gen)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-5, atol=1e-6)
    with torch.enable_grad():  # gradients requested: the module itself runs
        torch.testing.assert_close(fast(x).detach(), model(x).detach())


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_buffered_mdcsrn_paths_agree_in_2d_and_3d(spatial_dims: int) -> None:
    model = build("mdcsrn", {**MDCSRN_KW, "spatial_dims": spatial_dims, "scale": 2})
    with torch.no_grad():
        model.reconstruction.weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(4))
    fast = prepare_for_inference(model)
    assert isinstance(fast, BufferedMDCSRN)
    shape = (3, 1, *([6, 9, 7][:spatial_dims]))
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        ref = model(x)
        torch.testing.assert_close(fast(x), ref, rtol=1e-5, atol=1e-6)  # per window, NDHWC
        # the accelerator path (all windows at once, channels-first) also runs on the CPU
        torch.testing.assert_close(fast._run_batched(x), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        SRRESNET2D_KW,
        {**SRRESNET2D_KW, "scale": 3},
        {**SRRESNET2D_KW, "scale": 4},
        {**SRRESNET2D_KW, "scale": (2, 3)},
        {"spatial_dims": 3, "scale": 2, "features": 6, "num_blocks": 1, "outer_kernel_size": 3},
        {"spatial_dims": 3, "scale": (1, 2, 2), "features": 4, "num_blocks": 1},
    ],
)
def test_output_convolution_folded_through_the_shuffle(kwargs: dict) -> None:  # type: ignore[type-arg]
    model = build("srresnet", kwargs)
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():  # a per-channel PReLU (not SRGAN's shared one) must move too
        act = model.upsample[-1].act
        if isinstance(act, torch.nn.PReLU):
            act.weight.uniform_(0.05, 0.5, generator=gen)
    fast = prepare_for_inference(model)
    assert isinstance(fast.tail[0], CoarseGridConv)
    last = model.upsample[-1].shuffle.scale  # x4 is two x2 stages: the last one is folded
    block = last**model.spatial_dims if isinstance(last, int) else math.prod(last)
    assert fast.tail[0].conv.out_channels == model.tail[0].out_channels * block
    nd = model.spatial_dims
    x = torch.rand(2, 1, *([7, 6, 5][:nd]), generator=gen)
    with torch.no_grad():
        ref = model(x)
        got = fast(x)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=2e-6)
    unfolded = prepare_for_inference(model, fold_shuffle=False)
    assert unfolded.tail[0].out_channels == model.tail[0].out_channels


@pytest.mark.parametrize(
    ("kernel", "factor", "taps"),
    [(3, (2, 2, 2), (2, 2, 2)), (9, (2, 2), (5, 5)), (3, (3, 1), (2, 3)), (5, (1, 3), (5, 3))],
)
def test_coarse_grid_convolution_equals_the_fine_one(
    kernel: int, factor: tuple, taps: tuple
) -> None:  # type: ignore[type-arg]
    from medsr.nn.pixel_shuffle import pixel_shuffle

    nd = len(factor)
    gen = torch.Generator().manual_seed(8)
    conv_t = torch.nn.Conv3d if nd == 3 else torch.nn.Conv2d
    fine = conv_t(3, 2, kernel, padding=kernel // 2)
    with torch.no_grad():
        fine.weight.normal_(generator=gen)
        fine.bias.normal_(generator=gen)
    coarse = CoarseGridConv(fine, factor)
    assert tuple(coarse.conv.kernel_size) == taps  # the narrowest kernel that covers every shift
    z = torch.randn(2, 3 * math.prod(factor), *([5, 4, 6][:nd]), generator=gen)
    with torch.no_grad():
        ref = fine(pixel_shuffle(z, factor))
        got = pixel_shuffle(coarse(z), factor)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_shuffle_folding_moves_a_per_channel_prelu() -> None:
    from medsr.infer.optimize import fold_output_shuffle
    from medsr.models.generators import GENERATORS

    model = GENERATORS.build("srresnet", **SRRESNET2D_KW).eval()
    stage = model.upsample[-1]
    features = stage.conv.out_channels // 4
    stage.act = torch.nn.PReLU(features)
    with torch.no_grad():
        stage.act.weight.copy_(torch.linspace(0.0, 0.9, features))
    x = torch.rand(1, 1, 9, 8, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = model(x)
        assert fold_output_shuffle(model)
        torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=2e-6)


def _trained_statistics(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Batch norms with non-trivial eval statistics, so folding them is actually checked."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_var is not None:
                m.running_mean.uniform_(-0.3, 0.3, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5, generator=gen)
                    m.bias.uniform_(-0.3, 0.3, generator=gen)


@pytest.mark.parametrize("channels_last", [False, True])
def test_every_generator_keeps_its_function_when_prepared(channels_last: bool) -> None:
    """All rewrites (folding, coarse-grid output, in-place activations, buffers) on every
    generator configuration of the model contract tests."""
    from medsr.models.generators import GENERATORS
    from tests.models.test_generators import CASES

    for case in CASES:
        gen = torch.Generator().manual_seed(9)
        torch.manual_seed(0)
        model = GENERATORS.build(case.name, **case.kwargs).eval()
        _trained_statistics(model, gen)
        x = torch.rand(*case.in_shape, generator=gen)
        fast = prepare_for_inference(model, channels_last=channels_last)
        with torch.inference_mode():
            ref = model(x)
            got = fast(x.contiguous(memory_format=_format(x)) if channels_last else x)
        scale = max(float(ref.abs().max()), 1e-3)
        torch.testing.assert_close(
            got / scale, ref / scale, rtol=0, atol=2e-5, msg=f"{case.name} {case.kwargs}"
        )


def _format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last_3d if x.ndim == 5 else torch.channels_last


def test_activations_go_in_place_only_on_fresh_tensors() -> None:
    from torch import nn

    from medsr.infer.optimize import inplace_activations

    seq = nn.Sequential(
        nn.PReLU(),  # sees the container's input: left alone
        nn.Conv2d(1, 2, 3, padding=1),
        nn.Identity(),
        nn.PReLU(),  # after a conv (identity skipped): becomes an in-place LeakyReLU
        nn.Conv2d(2, 2, 1),
        nn.PReLU(2),  # per-channel: left alone
        nn.BatchNorm2d(2).eval(),
        nn.ReLU(),  # after a batch norm: in place
    )
    assert inplace_activations(seq) == 2
    assert isinstance(seq[0], nn.PReLU) and isinstance(seq[5], nn.PReLU)
    assert isinstance(seq[3], nn.LeakyReLU) and seq[3].inplace
    assert seq[3].negative_slope == pytest.approx(0.25)
    assert seq[7].inplace
    x = torch.randn(1, 1, 5, 5)
    before = x.clone()
    with torch.no_grad():
        seq(x)
    assert torch.equal(x, before)  # the caller's tensor is never overwritten
