"""Loading local weight files into feature extractors, with clear key reports."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a ``.pth`` / ``.pt`` state dict safely (``weights_only=True``).

    Accepts a bare state dict or a checkpoint holding one under ``"state_dict"`` or ``"model"``,
    and strips a ``module.`` prefix (``DataParallel`` checkpoints such as MedicalNet's).

    Args:
        path: Local file.

    Returns:
        Mapping of parameter / buffer name to tensor.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file holds no state dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {os.fspath(path)}")
    obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(
            f"{os.fspath(path)} does not hold a state dict (a mapping of names to tensors)"
        )
    out: dict[str, Tensor] = {}
    for key, value in obj.items():
        name = key[len("module.") :] if key.startswith("module.") else key
        out[name] = value
    return out


def load_checked(
    model: nn.Module,
    state: Mapping[str, Tensor],
    *,
    source: str,
    ignore_prefixes: Iterable[str] = (),
) -> list[str]:
    """Load ``state`` into ``model`` strictly, except for keys under ``ignore_prefixes``.

    Args:
        model: Target module.
        state: State dict to load.
        source: Name of the file, used in messages.
        ignore_prefixes: Key prefixes present in the file but not used by ``model`` (e.g. a
            segmentation head); they are skipped and returned.

    Returns:
        The sorted list of ignored keys.

    Raises:
        ValueError: Listing every missing key, unexpected key and shape mismatch.
    """
    prefixes = tuple(ignore_prefixes)
    own = model.state_dict()
    ignored = sorted(k for k in state if k not in own and k.startswith(prefixes))
    kept = {k: v for k, v in state.items() if k not in ignored}
    missing = sorted(set(own) - set(kept))
    unexpected = sorted(set(kept) - set(own))
    mismatched = sorted(
        f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in kept.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:20])}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:20])}")
        if mismatched:
            parts.append(f"shape mismatches: {'; '.join(mismatched[:20])}")
        raise ValueError(
            f"{source} does not fit {type(model).__name__}: " + " | ".join(parts) + ". Check "
            "that the file is the expected architecture (and in_channels / layer match)."
        )
    model.load_state_dict(kept, strict=True)
    return ignored
