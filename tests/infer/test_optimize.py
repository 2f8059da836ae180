"""Inference rewrites keep the model's function and never touch the caller's module."""

from __future__ import annotations

import pytest
import torch

from medsr.infer.optimize import BufferedMDCSRN, fold_batchnorm, prepare_for_inference

from ._models import MDCSRN_KW, SRRESNET2D_KW, build


def test_batchnorm_folding_keeps_the_function() -> None:
    model = build("srresnet", SRRESNET2D_KW)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = prepare_for_inference(model, channels_last=True)
    x = torch.rand(2, 1, 13, 17, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, got = model(x), fast(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
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
        assert torch.equal(fast(x[:1]), model(x[:1]))  # batch 1: bit-identical
        torch.testing.assert_close(fast(x), model(x), rtol=1e-6, atol=1e-6)  # strided reads
    with pytest.raises(ValueError, match="MDCSRN"):
        fast(torch.rand(1, 2, 4, 4, 4))
