"""L2-ball projection with a learnable radius."""

from __future__ import annotations

import math

import torch

from medsr.nn.l2proj import L2BallProjection


def test_inside_ball_is_unchanged_outside_is_scaled(gen: torch.Generator) -> None:
    proj = L2BallProjection(alpha_init=0.0)
    r = torch.randn(2, 1, 4, 4, generator=gen)
    norms = r.flatten(1).norm(dim=1)
    n = 16
    # sample 0: radius above its norm; sample 1: radius at half its norm
    sigma = torch.stack([2 * norms[0], 0.5 * norms[1]]) / math.sqrt(n - 1)
    out = proj(r, sigma)
    torch.testing.assert_close(out[0], r[0])
    torch.testing.assert_close(out[1].norm(), 0.5 * norms[1])
    torch.testing.assert_close(out[1] / out[1].norm(), r[1] / norms[1])


def test_alpha_scales_radius_and_learns(gen: torch.Generator) -> None:
    proj = L2BallProjection()
    torch.testing.assert_close(proj.alpha.detach(), torch.tensor([math.log(2.0)]))
    r = torch.randn(1, 2, 5, 5, generator=gen) * 10
    sigma = torch.tensor([0.1])
    out = proj(r, sigma)
    torch.testing.assert_close(out.norm(), 2 * 0.1 * torch.tensor(math.sqrt(49.0)))
    out.sum().backward()
    assert proj.alpha.grad is not None and proj.alpha.grad.abs() > 0


def test_zero_sigma_gives_zero_not_nan() -> None:
    out = L2BallProjection()(torch.zeros(1, 1, 3, 3), torch.zeros(1))
    assert torch.equal(out, torch.zeros(1, 1, 3, 3))
