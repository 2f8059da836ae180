"""Shared test fixtures: deterministic torch, small thread count."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded torch generator (library code never touches the global RNG)."""
    return torch.Generator().manual_seed(0)
