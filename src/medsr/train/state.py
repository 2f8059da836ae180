"""Capturing and restoring the complete training state (for checkpoints and rollbacks).

The state is plain data plus tensors (``weights_only``-loadable): step, data position,
network weights, optimiser and grad-scaler states, EMA weights, RNG states, the guard's
counters and the best validation value so far. Tensors are cloned to the CPU, so a captured
state is a snapshot that later updates do not change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


def cpu_clone(obj: Any) -> Any:
    """Deep copy with every tensor cloned to the CPU (tuples become lists)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_clone(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [cpu_clone(v) for v in obj]
    return obj


def restore_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load an optimiser state captured by :func:`cpu_clone` (tuples were turned into lists)."""
    groups = []
    for g in state["param_groups"]:
        g = dict(g)
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state["state"], "param_groups": groups})


class GlobalRNG:
    """The trainer's own stream for code that uses torch's global RNG (dropout).

    :meth:`scope` swaps the stream in for the duration of a step and out afterwards with
    :func:`torch.random.fork_rng`, so the caller's global RNG is never consumed, and the stream
    is saved in checkpoints (an exact resume replays the same dropout masks).

    Args:
        seed: Seed of the stream.
        device: The training device (its CUDA stream is handled too).
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.Generator().manual_seed(seed).get_state()
        self.cuda: torch.Tensor | None = None
        if device.type == "cuda":
            g = torch.Generator(device=device).manual_seed(seed)
            self.cuda = g.get_state()

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        cuda = self.device.type == "cuda"
        devices = [self.device.index or 0] if cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if cuda and self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield
            self.cpu = torch.get_rng_state()
            if cuda:
                self.cuda = torch.cuda.get_rng_state(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu.clone(), "cuda": None if self.cuda is None else self.cuda.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cpu = state["cpu"].clone()
        if state.get("cuda") is not None and self.device.type == "cuda":
            self.cuda = state["cuda"].clone()
