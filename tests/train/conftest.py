"""Training tests: one intra-op thread (tiny tensors; on a busy 2-core machine two OpenMP
threads make every small op wait for a descheduled thread) and paths to the tiny recipes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = CONFIGS / "tiny"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
