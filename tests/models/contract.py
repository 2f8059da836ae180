"""Model contract checks, shared by the generator and discriminator contract tables.

A table row is a :class:`Case`: a registry name, constructor kwargs, an input shape and the
expected output shape. The checks: output shape, finite gradients for every parameter,
eval determinism, state-dict round trip, and a clear error on bad sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Case:
    name: str
    kwargs: dict[str, Any]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    bad_shape: tuple[int, ...] | None = None
    #: extra positional inputs (shapes) passed after the first, e.g. a low-dose image for a D.
    extra_inputs: tuple[tuple[int, ...], ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        kw = ",".join(f"{k}={v}" for k, v in sorted(self.kwargs.items()))
        return f"{self.name}[{kw}]{self.in_shape}"


def _inputs(case: Case, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = (case.in_shape, *case.extra_inputs)
    return [torch.rand(s, generator=g) for s in shapes]


def check_contract(build: Callable[..., nn.Module], case: Case) -> None:
    """Run every contract check for one table row; raises AssertionError on failure."""
    torch.manual_seed(
        0
    )  # the test owns the global RNG for parameter init; library code never reads it
    model = build(**case.kwargs)
    xs = _inputs(case)

    # shape + finite gradients for every parameter
    model.train()
    out = model(*xs)
    assert tuple(out.shape) == case.out_shape, (
        f"{case.id}: output {tuple(out.shape)} != {case.out_shape}"
    )
    assert torch.isfinite(out).all(), f"{case.id}: non-finite output"
    (out.float() ** 2).mean().backward()
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"{case.id}: parameter {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{case.id}: non-finite gradient in {pname}"

    # eval determinism
    model.eval()
    with torch.no_grad():
        a = model(*xs)
        b = model(*xs)
    torch.testing.assert_close(a, b, rtol=0, atol=0)

    # state-dict round trip into a freshly (differently) initialised model
    torch.manual_seed(1)
    other = build(**case.kwargs)
    other.load_state_dict(model.state_dict())
    other.eval()
    with torch.no_grad():
        c = other(*xs)
    torch.testing.assert_close(a, c, rtol=0, atol=0)

    # clear error on bad sizes
    if case.bad_shape is not None:
        bad = torch.rand(case.bad_shape)
        try:
            model(bad, *xs[1:])
        except ValueError as exc:
            assert str(exc), f"{case.id}: empty error message for bad shape"
        else:
            raise AssertionError(f"{case.id}: input of shape {case.bad_shape} was accepted")
