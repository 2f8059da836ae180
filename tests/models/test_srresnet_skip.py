"""SRResNet and RRDBNet ``input_skip``: start as the interpolation, stay exact through the
inference rewrites."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medsr.infer.optimize import prepare_for_inference
from medsr.models.generators import GENERATORS


@pytest.mark.parametrize("net", ["srresnet", "rrdbnet"])
@pytest.mark.parametrize(
    ("dims", "skip", "mode"),
    [(2, "cubic", "bicubic"), (2, "linear", "bilinear"), (3, "linear", "trilinear")],
)
def test_input_skip_starts_as_the_interpolation(net: str, dims: int, skip: str, mode: str) -> None:
    kw = {"spatial_dims": dims, "scale": 2, "num_blocks": 1, "features": 8, "input_skip": skip}
    if net == "rrdbnet":
        kw["growth"] = 4
    elif dims == 3:
        kw["outer_kernel_size"] = 3
    model = GENERATORS.build(net, **kw).eval()
    last = model.tail[0] if net == "srresnet" else model.tail[2]
    shape = (1, 1, 9, 10) if dims == 2 else (1, 1, 5, 6, 7)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    want = F.interpolate(x, scale_factor=2, mode=mode, align_corners=False)
    with torch.no_grad():
        torch.testing.assert_close(model(x), want)
        torch.nn.init.normal_(last.weight, std=0.05, generator=torch.Generator().manual_seed(1))
        out = model(x)
        assert (out - want).abs().max() > 1e-3  # the network's correction is added
        fast = prepare_for_inference(model, channels_last=True)
        torch.testing.assert_close(fast(x), out, rtol=1e-4, atol=1e-5)


def test_input_skip_refusals() -> None:
    with pytest.raises(ValueError, match="input_skip must be one of"):
        GENERATORS.build("rrdbnet", scale=2, input_skip="nearest")
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        GENERATORS.build("rrdbnet", scale=2, out_channels=2, input_skip="linear")
    with pytest.raises(ValueError, match="input_skip"):
        GENERATORS.build("srresnet", scale=2, input_skip="cubic", output_activation="tanh")
    with pytest.raises(ValueError, match="2D only"):
        GENERATORS.build("srresnet", spatial_dims=3, scale=2, input_skip="cubic")
