"""Feature extractors: layouts that match the public weight files, local loading, freezing.

Random weights only test the plumbing; no weights are downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medsr.errors import ConfigError
from medsr.models.features import FEATURES, ResNet10Features3D, VGG19Features
from medsr.models.features.vgg19 import LAYER_INDEX


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- ResNet-10 (MedicalNet) ----


def test_resnet10_layout_and_shapes(gen: torch.Generator) -> None:
    model = FEATURES.build("resnet10_3d")
    keys = set(model.state_dict())
    for key in (
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer1.0.bn2.bias",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight",
        "layer3.0.downsample.0.weight",
        "layer4.0.conv2.weight",
    ):
        assert key in keys, key
    assert "layer1.0.downsample.0.weight" not in keys  # 64 -> 64, stride 1: identity shortcut
    assert tuple(model.layer4[0].conv1.dilation) == (4, 4, 4)
    assert _count(model) == 14_355_520  # MedicalNet README: 14.36M (3D-ResNet10)
    feats = model(torch.rand(1, 1, 16, 16, 24, generator=gen))
    assert [tuple(f.shape) for f in feats] == [
        (1, 64, 4, 4, 6),
        (1, 128, 2, 2, 3),
        (1, 256, 2, 2, 3),
        (1, 512, 2, 2, 3),
    ]


def test_resnet10_from_file_strips_module_prefix(tmp_path: Path, gen: torch.Generator) -> None:
    torch.manual_seed(0)
    source = ResNet10Features3D(frozen=False)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    state["module.conv_seg.0.weight"] = torch.zeros(512, 32, 2, 2, 2)  # MedicalNet's seg head
    path = tmp_path / "resnet_10.pth"
    torch.save({"state_dict": state}, path)
    loaded = ResNet10Features3D.from_file(path, layers=("layer4",))
    source.eval()
    x = torch.rand(1, 1, 16, 16, 16, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], source(x)[3], rtol=0, atol=0)


def test_resnet10_from_file_reports_bad_keys(tmp_path: Path) -> None:
    state = ResNet10Features3D().state_dict()
    state.pop("layer4.0.conv2.weight")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"missing keys.*layer4\.0\.conv2\.weight.*extra\.weight"):
        ResNet10Features3D.from_file(path)
    with pytest.raises(FileNotFoundError):
        ResNet10Features3D.from_file(tmp_path / "absent.pth")


def test_resnet10_frozen_and_trainable(gen: torch.Generator) -> None:
    x = torch.rand(1, 1, 8, 8, 8, generator=gen, requires_grad=True)
    frozen = ResNet10Features3D(layers=("layer2",))
    frozen.train()
    assert not frozen.training
    frozen(x)[0].sum().backward()
    assert all(p.grad is None for p in frozen.parameters())
    assert x.grad is not None and torch.isfinite(x.grad).all()

    trainable = ResNet10Features3D(layers=("stem", "layer1"), frozen=False)
    assert trainable.training
    out = trainable(torch.rand(2, 1, 8, 8, 8, generator=gen))
    sum(o.mean() for o in out).backward()
    assert trainable.conv1.weight.grad is not None
    with pytest.raises(ValueError, match="layers"):
        ResNet10Features3D(layers=("layer5",))


# ------------------------------------------------------------------- VGG-19 (torchvision) ----


def test_vgg19_refuses_without_weights() -> None:
    with pytest.raises(ConfigError, match=r"vgg19-dcbb9e9d\.pth"):
        VGG19Features()


def test_vgg19_layout_matches_torchvision_names() -> None:
    assert LAYER_INDEX["conv5_4"] == 34 and LAYER_INDEX["relu5_4"] == 35
    assert LAYER_INDEX["conv1_1"] == 0 and LAYER_INDEX["pool1"] == 4 and LAYER_INDEX["conv2_1"] == 5
    model = VGG19Features(layer="conv5_4", allow_random=True)
    keys = list(model.state_dict())
    assert keys[-2:] == ["features.34.weight", "features.34.bias"]
    assert "features.0.weight" in keys and "features.5.weight" in keys
    assert _count(model) == 20_024_384  # the 16 conv layers of torchvision's vgg19
    assert tuple(model.state_dict()["features.34.weight"].shape) == (512, 512, 3, 3)


def test_vgg19_input_mapping_and_load(tmp_path: Path, gen: torch.Generator) -> None:
    torch.manual_seed(0)
    source = VGG19Features(layer="relu5_4", allow_random=True)
    state = dict(source.state_dict())
    state["classifier.0.weight"] = torch.zeros(8, 8)  # torchvision files carry the classifier
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    small = VGG19Features(layer="relu2_2", weights=path, input_range=(-1.0, 1.0))
    torch.testing.assert_close(small.features[5].weight, source.features[5].weight)

    x = torch.rand(2, 1, 16, 16, generator=gen) * 2 - 1
    expected_in = ((x + 1) / 2).expand(-1, 3, -1, -1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = small.features((expected_in - mean) / std)
        torch.testing.assert_close(small(x), expected)
    assert small(x).shape == (2, 128, 8, 8)


def test_vgg19_frozen_has_no_parameter_grads(gen: torch.Generator) -> None:
    model = VGG19Features(layer="relu1_2", allow_random=True)
    model.train()
    assert not model.training
    x = torch.rand(1, 1, 8, 8, generator=gen, requires_grad=True)
    model(x).sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    assert x.grad is not None
    trainable = VGG19Features(layer="conv1_1", allow_random=True, frozen=False)
    trainable(x).sum().backward()
    assert trainable.features[0].weight.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": "conv6_1"}, "unknown VGG-19 layer"),
        ({"in_channels": 2}, "in_channels"),
        ({"input_range": (1.0, 0.0)}, "input_range"),
    ],
)
def test_vgg19_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        VGG19Features(allow_random=True, **kwargs)  # type: ignore[arg-type]


def test_vgg19_wrong_file(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 1, 3, 3)}, path)
    with pytest.raises(ValueError, match=r"shape mismatches.*features\.0\.weight"):
        VGG19Features(layer="conv1_1", weights=path)
