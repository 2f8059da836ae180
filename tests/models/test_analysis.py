"""Parameter count, FLOPs per output voxel and the gradient-measured receptive field."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medsr.models.analysis import count_parameters, flops_per_output_voxel, receptive_field
from medsr.models.generators import SRResCGAN
from medsr.nn.cbam import CBAM
from medsr.nn.pixel_shuffle import PixelShuffle


def _conv_stack(n: int, dims: int = 2, channels: int = 3) -> nn.Module:
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [cls(1 if i == 0 else channels, channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_rf_of_conv_stack_is_2n_plus_1(n: int) -> None:
    torch.manual_seed(n)
    rf = receptive_field(_conv_stack(n), spatial_dims=2, in_channels=1, probe_size=(25, 24))
    assert rf.size == (2 * n + 1, 2 * n + 1)
    assert rf.before == rf.after == (n, n)
    assert rf.anchor == (12, 12)
    assert rf.truncated == (False, False)
    assert rf.margin == (n, n)


def test_rf_3d_stack_with_batch_norm_in_train_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(1, 2, 3, padding=1), nn.BatchNorm3d(2), nn.Conv3d(2, 1, 3, padding=1)
    ).train()
    rf = receptive_field(model, spatial_dims=3, in_channels=1, probe_size=(9, 11, 13))
    assert rf.size == (5, 5, 5)
    assert model.training  # the measured model is a copy


@pytest.mark.parametrize(("dilation", "kernel"), [(2, 3), (3, 3), (2, 5)])
def test_rf_of_dilated_conv(dilation: int, kernel: int) -> None:
    torch.manual_seed(0)
    pad = dilation * (kernel // 2)
    model = nn.Conv2d(1, 1, kernel, dilation=dilation, padding=pad)
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=21)
    extent = dilation * (kernel - 1) + 1
    assert rf.size == (extent, extent)


def test_rf_dilated_after_plain_conv_adds_up() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 1, 3, padding=2, dilation=2))
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=19)
    assert rf.size == (7, 7)  # 3 + (5 - 1)


def test_rf_of_subpixel_upsampler_is_in_input_voxels() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), PixelShuffle(2))
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=11)
    assert rf.size == (3, 3)
    assert rf.anchor == (5, 5)  # output centre 11 lies in input voxel 5


def test_rf_flags_global_operations_as_truncated() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), CBAM(2, 4, reduction=2))
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=15)
    assert rf.size == (15, 15) and rf.truncated == (True, True)


def test_rf_probe_smaller_than_field_is_truncated() -> None:
    torch.manual_seed(0)
    rf = receptive_field(_conv_stack(6), spatial_dims=2, in_channels=1, probe_size=9)
    assert rf.truncated == (True, True)


def test_rf_rejects_bad_probe() -> None:
    with pytest.raises(ValueError, match="probe_size"):
        receptive_field(_conv_stack(1), spatial_dims=2, in_channels=1, probe_size=(5, 5, 5))


def test_rf_does_not_touch_global_rng() -> None:
    model = _conv_stack(2)
    state = torch.get_rng_state()
    receptive_field(model, spatial_dims=2, in_channels=1, probe_size=9)
    assert torch.equal(state, torch.get_rng_state())


def test_flops_of_single_conv() -> None:
    model = nn.Conv3d(2, 5, 3, padding=1)
    flops = flops_per_output_voxel(model, (2, 2, 6, 7, 8))
    assert flops == 2 * 2 * 5 * 27


def test_flops_per_output_voxel_of_upsampler() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), PixelShuffle(2)).train()
    # 2 * 1 * 4 * 9 FLOPs per input pixel, 4 output pixels per input pixel
    assert flops_per_output_voxel(model, (1, 1, 8, 8)) == 2 * 4 * 9 / 4
    assert model.training


def test_count_parameters() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model[1].weight.requires_grad_(False)
    assert count_parameters(model) == 3 * 4 + 4 + 4 * 2 + 2
    assert count_parameters(model, trainable_only=True) == 3 * 4 + 4 + 2


def test_rf_sees_through_closed_relus() -> None:
    torch.manual_seed(0)
    first = nn.Conv2d(1, 2, 3, padding=1)
    with torch.no_grad():
        first.bias.fill_(-100.0)  # every ReLU closed for inputs of ordinary size
    model = nn.Sequential(first, nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=15)
    assert rf.size == (5, 5)


def test_rf_spreads_through_max_pool() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(2, 1, 3, padding=1)
    )
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=16, num_probes=1)
    # pooled centre 4 sees pooled 3..5 = inputs 6..11, widened by the first conv to 5..12
    assert rf.size == (8, 8)
    assert (rf.before, rf.after) == ((3, 3), (4, 4))


def test_rf_of_deep_attenuating_stack_does_not_underflow() -> None:
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(150)]
    with torch.no_grad():
        for layer in layers:
            layer.weight.mul_(1e-3)  # the edge path's gradient would be ~1e-450 in float64
    rf = receptive_field(
        nn.Sequential(*layers), spatial_dims=2, in_channels=1, probe_size=(311, 3), num_probes=1
    )
    assert rf.size[0] == 301 and not rf.truncated[0]


def test_rf_phases_cover_every_output_phase() -> None:
    torch.manual_seed(0)
    # output voxel 2p sees inputs 2p..2p+1, voxel 2p+1 sees 2p..2p+1: the phase matters
    model = nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.ConvTranspose2d(2, 1, 2, stride=2))
    centre_only = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=16)
    assert (centre_only.before, centre_only.after) == ((0, 0), (1, 1))
    both = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=16, phases=2)
    assert (both.before, both.after, both.size) == ((1, 1), (1, 1), (2, 2))
    assert both.margin == (1, 1)


def test_rf_declared_global_context_is_truncated() -> None:
    torch.manual_seed(0)
    model = SRResCGAN(features=4, num_blocks=1, scale=2)
    rf = receptive_field(model, spatial_dims=2, in_channels=1, probe_size=40, num_probes=1)
    assert rf.truncated == (True, True)
