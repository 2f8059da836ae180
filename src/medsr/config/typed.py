"""Plain data (from YAML) <-> typed dataclasses, with strict checking.

:func:`from_plain` builds a dataclass tree from nested dicts and lists and rejects unknown keys,
missing required keys and values of the wrong type, naming the dotted path of the offending
key. :func:`to_plain` goes back to plain data (dicts, lists, str, int, float, bool, None), which
is what YAML dumps and checkpoints (``weights_only=True``) store.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Any`` (plain data),
``Literal[...]``, ``list[T]``, ``dict[str, T]``, ``T | None`` and nested dataclasses.
PyYAML reads ``1e-4`` (no dot) as a string; a float field accepts such a string when it parses
as a number, and plain-data (``Any``) values in scientific notation are converted to floats.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from medsr.errors import ConfigError

T = TypeVar("T")

_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def from_plain(cls: type[T], data: Any, *, path: str = "") -> T:
    """Build dataclass ``cls`` from plain ``data``.

    Args:
        cls: A dataclass type.
        data: A mapping of field names to plain values.
        path: Dotted path of ``data`` inside the whole config (for messages).

    Returns:
        The dataclass instance.

    Raises:
        ConfigError: On an unknown or missing key, or a value of the wrong type; the message
            names the dotted key and what is expected.
    """
    return typing.cast(T, _convert(cls, data, path or "<config>"))


def to_plain(obj: Any) -> Any:
    """Dataclass tree -> plain dicts / lists / scalars (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


def _name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return _plain_any(value, path)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value, path)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} fits none of {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return value
        raise ConfigError(f"{path}: {value!r} is not one of {list(allowed)}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        (item,) = get_args(tp) or (Any,)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
        _, val_t = get_args(tp) or (str, Any)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{path}: keys must be strings, got {k!r}")
            out[k] = _convert(val_t, v, f"{path}.{k}")
        return out
    return _scalar(tp, value, path)


def _scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - schema error, not a user error
        raise TypeError(f"unsupported config field type {tp!r} at {path}")
    raise ConfigError(f"{path}: expected {_name(tp)}, got {type(value).__name__} {value!r}")


def _plain_any(value: Any, path: str) -> Any:
    if isinstance(value, str) and _SCIENTIFIC.match(value):
        return float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain_any(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _plain_any(v, f"{path}.{k}") for k, v in value.items()}
    raise ConfigError(f"{path}: {type(value).__name__} values are not plain data")


def _dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        key = unknown[0]
        if isinstance(key, bool):
            raise ConfigError(
                f"{path}: YAML read a key as the boolean {key} (true/false are booleans); "
                "quote the key"
            )
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{path}: unknown key {key!r}{hint} (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path != "<config>" else name
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{sub}: required key is missing")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: {exc}") from None
