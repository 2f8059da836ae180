"""Checking a device name from the command line or a config before any work is done."""

from __future__ import annotations

from typing import Any

from medsr.errors import ConfigError

#: Device types medsr runs on.
DEVICE_TYPES: tuple[str, ...] = ("cpu", "cuda")


def parse_device(name: str, *, option: str = "--device") -> Any:
    """``name`` as a :class:`torch.device`, checked against this machine.

    Args:
        name: ``cpu``, ``cuda`` or ``cuda:<index>``.
        option: The option or config key that gave it, for the message.

    Returns:
        The device.

    Raises:
        ConfigError: For a name torch does not parse, a device type medsr does not run on, CUDA
            asked where it is not available, or a CUDA index this machine does not have.
    """
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"{option} {name!r} is not a device; use cpu, cuda or cuda:<index>"
        ) from None
    if dev.type not in DEVICE_TYPES:
        raise ConfigError(f"{option} {name!r}: medsr runs on {' or '.join(DEVICE_TYPES)}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {name!r} asked, but CUDA is not available here")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"{option} {name!r}: this machine has {count} CUDA device(s)")
    return dev
