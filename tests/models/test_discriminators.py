"""Discriminator contract table, parameter-count anchors and constructor validation."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from medsr.models.discriminators import DISCRIMINATORS
from tests.models.contract import Case, check_contract

CASES = [
    Case(
        "vgg_style",
        {"spatial_dims": 2, "patch_size": 32, "width_multiplier": 0.5},
        (2, 1, 32, 32),
        (2, 1),
        (2, 1, 32, 48),
    ),
    Case(
        "vgg_style",
        {
            "spatial_dims": 2,
            "in_channels": 3,
            "patch_size": (20, 48),
            "norm": "none",
            "dropout": 0.5,
            "width_multiplier": 0.5,
        },
        (2, 3, 20, 48),
        (2, 1),
        (2, 3, 20, 40),
    ),
    Case(
        "vgg_style",
        {"spatial_dims": 2, "head": "pool", "norm": "layer", "width_multiplier": 0.5},
        (2, 1, 20, 36),
        (2, 1),
        (2, 1, 8, 36),
    ),
    Case(
        "vgg_style",
        {
            "spatial_dims": 3,
            "patch_size": 16,
            "norm": "layer",
            "width_multiplier": 0.25,
            "dense_features": 64,
        },
        (2, 1, 16, 16, 16),
        (2, 1),
        (2, 1, 16, 16, 8),
    ),
    Case(
        "mdcsrn_critic",
        {"compressed": True, "patch_size": 16},
        (2, 1, 16, 16, 16),
        (2, 1),
        (2, 1, 16, 16, 32),
    ),
    Case("patchgan", {"spatial_dims": 2}, (2, 1, 32, 32), (2, 1, 2, 2), (2, 1, 16, 16)),
    Case(
        "patchgan",
        {"spatial_dims": 3, "channels": (8, 16, 32), "strides": (2, 2, 1), "norm": "instance"},
        (2, 1, 24, 24, 20),
        (2, 1, 4, 4, 3),
        (2, 1, 8, 8, 8),
    ),
    Case(
        "dfgan",
        {"spatial_dims": 2},
        (2, 1, 32, 40),
        (2, 1, 2, 3),
        (2, 1, 16, 16),
        extra_inputs=((2, 1, 32, 40),),
    ),
    Case(  # the DFGAN difference mode in 3D, at reduced widths
        "patchgan",
        {
            "spatial_dims": 3,
            "channels": (8, 16),
            "strides": (2, 2),
            "norm": "none",
            "difference_input": True,
        },
        (2, 1, 16, 16, 24),
        (2, 1, 3, 3, 5),
        (2, 1, 8, 8, 8),
        extra_inputs=((2, 1, 16, 16, 24),),
    ),
    Case(
        "dwt_unet",
        {"spatial_dims": 3, "depth": 4, "features": 4},
        (2, 1, 16, 16, 32),
        (2, 1, 16, 16, 32),
        (2, 1, 16, 16, 24),
    ),
    Case(
        "dwt_unet",
        {"spatial_dims": 2, "depth": 4, "features": 4},
        (2, 1, 16, 48),
        (2, 1, 16, 48),
        (2, 1, 16, 40),
    ),
    Case(
        "unet_sn",
        {"spatial_dims": 2, "features": 16},
        (2, 1, 24, 40),
        (2, 1, 24, 40),
        (2, 1, 24, 36),
    ),
    Case(
        "unet_sn",
        {"spatial_dims": 3, "features": 8},
        (2, 1, 16, 16, 24),
        (2, 1, 16, 16, 24),
        (2, 1, 16, 16, 20),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_contract(case: Case) -> None:
    check_contract(DISCRIMINATORS.get(case.name), case)


def test_every_discriminator_has_a_case_per_dims() -> None:
    covered = {(c.name, len(c.in_shape) - 2) for c in CASES}
    # mdcsrn_critic is 3D only; dfgan's 3D form is the patchgan difference-input row (its full
    # widths are too slow for a CPU unit test)
    only = {"mdcsrn_critic": {3}, "dfgan": {2}}
    for name in DISCRIMINATORS.names():
        dims = only.get(name, {2, 3})
        assert {(name, d) for d in dims} <= covered, name


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("dfgan", {}, 6_829_441),  # DFGAN paper count
        ("mdcsrn_critic", {}, 31_155_777),  # the paper's 31.156M (E6040 reference layout)
        ("mdcsrn_critic", {"compressed": True}, 17_629_073),  # the compressed 17.629M
        # the critic the bundled mdcsrn-t1-k2 was trained against (pinned in its recipe)
        (
            "vgg_style",
            {"spatial_dims": 3, "patch_size": 32, "norm": "layer", "dense_features": 512},
            16_150_721,
        ),
        ("vgg_style", {"spatial_dims": 3, "patch_size": 64, "norm": "layer"}, 47_609_025),
        ("patchgan", {"in_channels": 3}, 2_765_633),  # pix2pix 70x70 PatchGAN, RGB
        ("dwt_unet", {}, 42_653_827),  # the DISGAN authors' dwt_UNet
        ("unet_sn", {"in_channels": 3}, 4_376_897),  # Real-ESRGAN UNetDiscriminatorSN
        ("unet_sn", {"spatial_dims": 3}, 15_879_617),  # its 3D form in DISGAN's code
    ],
)
def test_parameter_counts(name: str, kwargs: dict[str, Any], expected: int) -> None:
    assert _count(DISCRIMINATORS.build(name, **kwargs)) == expected


def test_dfgan_builds_difference_channel(gen: torch.Generator) -> None:
    d = DISCRIMINATORS.build("dfgan").eval()
    x, x_lq = torch.rand(1, 1, 32, 32, generator=gen), torch.rand(1, 1, 32, 32, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(d(x, x_lq), d.model(torch.cat([x, x - x_lq], 1)))
        with pytest.raises(ValueError, match="x_lq"):
            d(x)
        with pytest.raises(ValueError, match="x_lq shape"):
            d(x, x_lq[..., :16])
        with pytest.raises(ValueError, match="difference_input=False"):
            DISCRIMINATORS.build("patchgan")(x, x_lq)


def test_mdcsrn_critic_layout() -> None:
    """Full-shape layer norm after every conv but the first; pooled 1x1 head 512 -> 1024 -> 1."""
    d = DISCRIMINATORS.build("mdcsrn_critic", patch_size=(32, 48, 64))
    convs = [m for m in d.features if isinstance(m, nn.Conv3d)]
    norms = [m for m in d.features if isinstance(m, nn.LayerNorm)]
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert len(norms) == len(convs) - 1
    assert norms[0].normalized_shape == (64, 16, 24, 32)  # after the first stride-2 conv
    assert norms[-1].normalized_shape == (512, 2, 3, 4)
    heads = [m for m in d.head if isinstance(m, nn.Conv3d)]
    assert [(h.in_channels, h.out_channels, h.kernel_size) for h in heads] == [
        (512, 1024, (1, 1, 1)),
        (1024, 1, (1, 1, 1)),
    ]
    small = DISCRIMINATORS.build("mdcsrn_critic", compressed=True, patch_size=32)
    convs = [m for m in small.features if isinstance(m, nn.Conv3d)]
    assert [c.stride[0] for c in convs] == [2, 2, 1, 2, 1, 2]
    assert next(m for m in small.head if isinstance(m, nn.Conv3d)).out_channels == 264
    assert small(torch.rand(2, 1, 32, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="patch_size"):
        small(torch.rand(1, 1, 32, 32, 16))
    with pytest.raises(ValueError, match="patch_size"):
        DISCRIMINATORS.build("mdcsrn_critic", patch_size=8)


def test_vgg_flatten_head_follows_patch_size() -> None:
    d = DISCRIMINATORS.build(
        "vgg_style", spatial_dims=2, patch_size=(20, 36), width_multiplier=0.25
    )
    first_dense = d.head[0]
    assert isinstance(first_dense, nn.Linear)
    assert first_dense.in_features == 128 * 2 * 3  # ceil(20/16) * ceil(36/16) positions
    assert d(torch.rand(1, 1, 20, 36)).shape == (1, 1)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("vgg_style", {"spatial_dims": 4}, "spatial_dims"),
        ("vgg_style", {"norm": "weird"}, "norm"),
        ("vgg_style", {"dropout": 1.0}, "dropout"),
        ("vgg_style", {"width_multiplier": 0}, "width_multiplier"),
        ("vgg_style", {"patch_size": 8}, "patch_size"),
        ("vgg_style", {"spatial_dims": 3, "patch_size": (16, 16)}, "patch_size"),
        ("vgg_style", {"head": "dense"}, "head"),
        ("patchgan", {"channels": (64, 128), "strides": (2,)}, "strides"),
        ("patchgan", {"norm": "group"}, "norm"),
        ("patchgan", {"in_channels": 0}, "in_channels"),
        ("dwt_unet", {"depth": 8}, "depth"),
        ("dwt_unet", {"features": 1}, "features"),
        ("unet_sn", {"spatial_dims": 1}, "spatial_dims"),
    ],
)
def test_constructor_validation(name: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DISCRIMINATORS.build(name, **kwargs)


def test_wrong_channels_message() -> None:
    d = DISCRIMINATORS.build("unet_sn", features=4)
    with pytest.raises(ValueError, match="in_channels=3"):
        d(torch.rand(1, 3, 16, 16))
