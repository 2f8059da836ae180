"""Generator contract table, parameter-count anchors, structure checks, constructor errors.

Contract rows use reduced widths/depths where the full model would be slow on CPU; the parameter
anchors use the full published configurations (built on the meta device: no memory, no forward).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from medsr.models.analysis import count_parameters
from medsr.models.generators import (
    DISGAN_3D_PRESET,
    ESRGAN_2D_PRESET,
    GENERATORS,
    MDCSRN,
    SRGAN_X3_PRESET,
    SRResCGAN,
    SRResNet,
)
from tests.models.contract import Case, check_contract

SMALL_RRDB = {"features": 8, "growth": 4, "num_blocks": 1}
SMALL_RES = {"features": 8, "num_blocks": 2}
SMALL_UNET = {"features": (4, 8, 16, 32, 64)}

CASES: list[Case] = [
    # mDCSRN (3D paper configuration at full size; reduced widths elsewhere)
    Case("mdcsrn", {}, (1, 1, 7, 8, 9), (1, 1, 7, 8, 9), bad_shape=(1, 2, 7, 8, 9)),
    Case(
        "mdcsrn",
        {"growth": 4, "num_blocks": 2, "num_units": 2, "scale": 2},
        (2, 1, 5, 6, 7),
        (2, 1, 10, 12, 14),
        bad_shape=(2, 1, 5, 6),
    ),
    Case("mdcsrn", {"growth": 4, "scale": (1, 2, 2)}, (2, 1, 3, 5, 6), (2, 1, 3, 10, 12)),
    Case(
        "mdcsrn",
        {"growth": 4, "spatial_dims": 2},
        (2, 1, 15, 17),
        (2, 1, 15, 17),
        bad_shape=(2, 3, 15, 17),
    ),
    # SRResNet / SRGAN
    Case(
        "srresnet",
        {**SMALL_RES, "scale": 1, "batch_norm": False},
        (2, 1, 9, 11),
        (2, 1, 9, 11),
        bad_shape=(2, 2, 9, 11),
    ),
    Case("srresnet", {**SMALL_RES, "scale": 2}, (2, 1, 9, 11), (2, 1, 18, 22)),
    Case(
        "srresnet",
        {**SRGAN_X3_PRESET, **SMALL_RES},
        (2, 1, 7, 9),
        (2, 1, 21, 27),
        bad_shape=(2, 1, 7, 9, 3),
    ),
    Case("srresnet", {**SMALL_RES, "scale": 4}, (2, 1, 8, 7), (2, 1, 32, 28)),
    Case(
        "srresnet",
        {"features": 4, "num_blocks": 1, "spatial_dims": 3, "scale": 2},
        (2, 1, 5, 6, 7),
        (2, 1, 10, 12, 14),
        bad_shape=(2, 1, 5, 6),
    ),
    Case(
        "srresnet",
        {
            "features": 4,
            "num_blocks": 1,
            "spatial_dims": 3,
            "scale": (1, 2, 2),
            "activation": "leakyrelu",
        },
        (2, 1, 3, 5, 4),
        (2, 1, 3, 10, 8),
    ),
    # RRDBNet (ESRGAN 2D, DISGAN 3D)
    Case("rrdbnet", {**SMALL_RRDB, "scale": 1}, (2, 1, 7, 9), (2, 1, 7, 9), bad_shape=(2, 3, 7, 9)),
    Case("rrdbnet", {**SMALL_RRDB, "scale": 2}, (2, 1, 7, 9), (2, 1, 14, 18)),
    Case("rrdbnet", {**SMALL_RRDB, "scale": 3}, (2, 1, 5, 6), (2, 1, 15, 18)),
    Case("rrdbnet", {**SMALL_RRDB, "scale": 4}, (2, 1, 7, 9), (2, 1, 28, 36)),
    Case(
        "rrdbnet",
        {**DISGAN_3D_PRESET, **SMALL_RRDB},
        (2, 1, 5, 6, 7),
        (2, 1, 10, 12, 14),
        bad_shape=(2, 1, 5, 6),
    ),
    Case(
        "rrdbnet",
        {**SMALL_RRDB, "spatial_dims": 3, "scale": (1, 2, 2)},
        (2, 1, 3, 4, 5),
        (2, 1, 3, 8, 10),
    ),
    # DFGAN / AttnDFGAN (full size at the smallest legal patch; reduced widths otherwise)
    Case("dfgan_unet", {}, (2, 1, 16, 32), (2, 1, 16, 32), bad_shape=(2, 1, 16, 30)),
    Case("attn_dfgan_unet", {}, (2, 1, 32, 16), (2, 1, 32, 16), bad_shape=(2, 1, 24, 16)),
    Case(
        "dfgan_unet",
        {**SMALL_UNET, "out_channels": 2},
        (2, 1, 48, 32),
        (2, 2, 48, 32),
        bad_shape=(2, 2, 48, 32),
    ),
    Case(
        "dfgan_unet",
        {"spatial_dims": 3, "features": (4, 8, 16), "attention": True},
        (2, 1, 8, 12, 16),
        (2, 1, 8, 12, 16),
        bad_shape=(2, 1, 8, 12, 15),
    ),
    # SRResCGAN generator (full size in 2D x4)
    Case("srrescgan", {}, (2, 1, 8, 7), (2, 1, 32, 28), bad_shape=(2, 2, 8, 7)),
    Case(
        "srrescgan", {**SMALL_RES, "scale": 2}, (2, 1, 7, 9), (2, 1, 14, 18), bad_shape=(2, 1, 1, 9)
    ),
    Case(
        "srrescgan",
        {**SMALL_RES, "scale": 3, "clip_range": (0.0, 1.0)},
        (2, 1, 5, 5),
        (2, 1, 15, 15),
    ),
    Case(
        "srrescgan",
        {"features": 4, "num_blocks": 2, "spatial_dims": 3, "scale": 2},
        (2, 1, 4, 5, 6),
        (2, 1, 8, 10, 12),
        bad_shape=(2, 1, 4, 5),
    ),
    # SRResCycGAN HR -> LR generator
    Case(
        "srrescyc_lr",
        {**SMALL_RES, "scale": 2},
        (2, 1, 14, 18),
        (2, 1, 7, 9),
        bad_shape=(2, 1, 15, 18),
    ),
    Case(
        "srrescyc_lr",
        {**SMALL_RES, "scale": 4, "output_activation": "sigmoid"},
        (2, 1, 16, 20),
        (2, 1, 4, 5),
        bad_shape=(2, 1, 16, 18),
    ),
    Case(
        "srrescyc_lr",
        {"features": 4, "num_blocks": 1, "spatial_dims": 3, "scale": 2},
        (2, 1, 6, 8, 10),
        (2, 1, 3, 4, 5),
        bad_shape=(2, 1, 6, 8, 9),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract(case: Case) -> None:
    check_contract(GENERATORS.get(case.name), case)


def test_every_registered_generator_has_a_row() -> None:
    assert set(GENERATORS.names()) == {c.name for c in CASES}


def _count(name: str, **kwargs: Any) -> int:
    with torch.device("meta"):
        return count_parameters(GENERATORS.build(name, **kwargs))


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        # anchors stated by the papers / the issue
        ("mdcsrn", {}, 411_648),
        ("dfgan_unet", {}, 7_762_808),
        ("attn_dfgan_unet", {}, 7_819_538),
        ("dfgan_unet", {"attention": True}, 7_819_538),
        # published RGB counts, reproduced
        ("srresnet", {"in_channels": 3, "out_channels": 3}, 1_549_462),
        ("rrdbnet", {"in_channels": 3, "out_channels": 3}, 16_697_987),
        ("srrescgan", {"in_channels": 3, "out_channels": 3}, 380_356),
        # one-channel counts of the default configurations (docs/models.md)
        ("srresnet", {}, 1_528_724),
        ("srresnet", SRGAN_X3_PRESET, 898_497),
        ("rrdbnet", ESRGAN_2D_PRESET, 16_695_681),
        ("rrdbnet", DISGAN_3D_PRESET, 16_042_881),
        ("srrescgan", {}, 373_954),
        ("srrescyc_lr", {}, 595_594),
    ],
)
def test_parameter_counts(name: str, kwargs: dict[str, Any], expected: int) -> None:
    assert _count(name, **kwargs) == expected


def test_mdcsrn_multilevel_layout() -> None:
    with torch.device("meta"):
        model = MDCSRN()
    # compressors see [stem, block_1..i] = 32 + 96 * i channels; reconstruction sees all five
    assert [c.in_channels for c in model.compressors] == [128, 224, 320]
    assert all(c.out_channels == 32 and c.bias is None for c in model.compressors)
    assert model.reconstruction.in_channels == 416 and model.reconstruction.bias is None
    assert model.stem.out_channels == 32 and model.stem.bias is None


def test_residual_mdcsrn_starts_as_the_identity(gen: torch.Generator) -> None:
    model = MDCSRN(growth=4, num_blocks=2, num_units=2, residual=True)
    plain = MDCSRN(growth=4, num_blocks=2, num_units=2)
    assert _count("mdcsrn", residual=True) == 411_648  # same parameters as the paper's network
    x = torch.rand(2, 1, 6, 7, 5, generator=gen)
    assert torch.equal(model(x), x)
    with torch.no_grad():
        model.reconstruction.weight.normal_(generator=gen)
        plain.load_state_dict(model.state_dict())
        torch.testing.assert_close(model(x), plain(x) + x)


@pytest.mark.parametrize("kwargs", [{"scale": (1, 2, 2)}, {"out_channels": 2}])
def test_residual_mdcsrn_needs_same_grid_and_channels(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="residual=True"):
        MDCSRN(growth=4, residual=True, **kwargs)


def test_srresnet_x3_is_one_subpixel_stage() -> None:
    with torch.device("meta"):
        x3 = SRResNet(scale=3, spatial_dims=3)
        x4 = SRResNet(scale=4)
    assert [stage.conv.out_channels for stage in x3.upsample] == [64 * 27]
    assert [stage.conv.out_channels for stage in x4.upsample] == [256, 256]


def test_srrescgan_without_residual_is_bilinear_upsampling(gen: torch.Generator) -> None:
    model = SRResCGAN(features=8, num_blocks=2, scale=2)
    with torch.no_grad():
        model.decoder.weight_g.zero_()
        model.decoder.bias.zero_()
    x = torch.rand(1, 1, 6, 7, generator=gen)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("dims", [2, 3])
def test_srrescyc_lr_area_skip_starts_as_area_downsampling(dims: int, gen: torch.Generator) -> None:
    model: nn.Module = GENERATORS.build(
        "srrescyc_lr", spatial_dims=dims, scale=2, features=4, num_blocks=1, input_skip="area"
    )
    x = torch.rand(2, 1, *([8] * dims), generator=gen)
    cells = x.reshape(2, 1, *[v for _ in range(dims) for v in (4, 2)])
    want = cells.mean(dim=tuple(range(3, 3 + 2 * dims, 2)))
    torch.testing.assert_close(model(x), want)
    # the residual branch trains: the zero-initialised last convolution gets a gradient
    model(x).square().sum().backward()
    assert model.down.weight.grad is not None and model.down.weight.grad.abs().sum() > 0


def test_srrescgan_clip_range(gen: torch.Generator) -> None:
    model = SRResCGAN(features=4, num_blocks=1, scale=2, clip_range=(0.25, 0.5)).eval()
    out = model(torch.rand(1, 1, 5, 5, generator=gen))
    assert out.min() >= 0.25 and out.max() <= 0.5


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("mdcsrn", {"growth": 0}, "growth must be a positive int"),
        ("mdcsrn", {"spatial_dims": 1}, "spatial_dims must be one of"),
        ("mdcsrn", {"scale": (2, 2)}, "scale"),
        ("srresnet", {"scale": 5}, "scale must be 1, 2, 3 or 4"),
        ("srresnet", {"activation": "relu"}, "activation must be one of 'prelu', 'leakyrelu'"),
        ("srresnet", {"output_activation": "sigmoid"}, "output_activation must be one of"),
        ("srresnet", {"outer_kernel_size": 8}, "outer_kernel_size must be odd"),
        ("rrdbnet", {"upsample": "bicubic"}, "upsample must be one of"),
        ("rrdbnet", {"res_scale": 0.0}, r"res_scale must be in \(0, 1\]"),
        ("dfgan_unet", {"in_channels": 2}, "in_channels must be 1"),
        ("dfgan_unet", {"features": (32,)}, "at least two levels"),
        ("attn_dfgan_unet", {"features": (32, 0)}, r"features\[1\] must be a positive int"),
        ("srrescgan", {"out_channels": 3}, "out_channels must equal in_channels"),
        ("srrescgan", {"clip_range": (1.0, 0.0)}, "low < high"),
        ("srrescyc_lr", {"output_activation": "tanh"}, "output_activation must be one of"),
        ("srrescyc_lr", {"scale": 0}, "scale"),
        ("srrescyc_lr", {"input_skip": "bicubic"}, "input_skip must be one of"),
        ("srrescyc_lr", {"input_skip": "area", "output_activation": "sigmoid"}, "needs output"),
    ],
)
def test_constructor_errors(name: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GENERATORS.build(name, **kwargs)


def test_unknown_generator_suggests_names() -> None:
    with pytest.raises(KeyError, match="did you mean 'rrdbnet'"):
        GENERATORS.get("rrdbnett")


def test_no_global_rng_use_in_forward(gen: torch.Generator) -> None:
    torch.manual_seed(123)
    model: nn.Module = GENERATORS.build("srrescgan", features=4, num_blocks=1, scale=2)
    state = torch.get_rng_state()
    model(torch.rand(1, 1, 6, 6, generator=gen))
    assert torch.equal(state, torch.get_rng_state())
