"""Reading, overriding and writing experiment configs.

YAML is only the file format: files are read with a ``yaml.SafeLoader`` (no tags, no
expressions) that also refuses a key repeated in one mapping and reads booleans as YAML 1.2 does
(only ``true`` / ``false``: ``amp: off`` is the string ``"off"``, not YAML 1.1's False) and
floats as YAML 1.2 does (``1e-3`` is a number, not YAML 1.1's string). ``--set key.sub=value`` overrides are parsed as YAML scalars / flow collections and
applied to the plain data before the typed check, so they are type-checked like the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medsr.config.schema import ExperimentConfig
from medsr.config.typed import from_plain, to_plain
from medsr.errors import ConfigError


def _yaml12_booleans(loader: Any) -> Any:
    """Give a SafeLoader subclass YAML 1.2 booleans: ``true`` / ``false`` only (YAML 1.1 also
    reads ``on``, ``off``, ``yes``, ``no``, ``y``, ``n`` as booleans, which turned
    ``train.amp: off`` into False)."""
    import re

    import yaml

    bool_tag, float_tag = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (bool_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    # YAML 1.2 floats: also 1e-3 (YAML 1.1 wants a dot, so `lr: 1e-3` was the string "1e-3")
    exp = r"[eE][-+]?[0-9]+"
    float_rx = (
        rf"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:{exp})?|\.[0-9_]+(?:{exp})?|[0-9][0-9_]*{exp})"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    )
    loader.add_implicit_resolver(float_tag, re.compile(float_rx), list("-+0123456789."))
    return loader


def _plain_loader() -> Any:
    """A SafeLoader with YAML 1.2 booleans (for ``--set`` values)."""
    import yaml

    class PlainLoader(yaml.SafeLoader):
        pass

    return _yaml12_booleans(PlainLoader)


def _unique_key_loader(path: Path) -> Any:
    """A ``yaml.SafeLoader`` that refuses a key repeated in one mapping (YAML keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` merges are allowed to be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                except TypeError:
                    continue  # unhashable key: the base loader reports it
                if repeated:
                    raise ConfigError(
                        f"{path}: duplicate key {key!r} (line {key_node.start_mark.line + 1}); "
                        "a key may appear once per mapping: keep one"
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return _yaml12_booleans(UniqueKeyLoader)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Plain data of a YAML file (safe loading; duplicate keys refused).

    Raises:
        ConfigError: For a missing file, invalid YAML, a key repeated in one mapping or a
            document that is not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a YAML text file (byte {exc.start} is not UTF-8)") from None
    try:
        data = yaml.load(text, Loader=_unique_key_loader(p))  # SafeLoader subclass: no tags
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config is a YAML mapping at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], parsed value)``.

    Raises:
        ConfigError: Without ``=`` or with an empty key.
    """
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set expects key.sub=value, got {text!r}")
    try:
        value = yaml.load(raw, Loader=_plain_loader()) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``key.sub=value`` override applied.

    A numeric part indexes a list (``data.train.0.scan=...``); missing mapping levels are
    created (the typed check then rejects keys the schema does not know).

    Raises:
        ConfigError: For a malformed override or a path through a non-container.
    """
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(
                        f"--set {text}: {where} is not an index of a {len(node)}-item list"
                    )
                if last:
                    node[int(key)] = value
                else:
                    node = node[int(key)]
            elif isinstance(node, dict):
                if last:
                    node[key] = value
                else:
                    if node.get(key) is None:
                        node[key] = {}
                    node = node[key]
            else:
                raise ConfigError(
                    f"--set {text}: {'.'.join(keys[:depth])} is not a mapping or list"
                )
    return out


#: Keys renamed since configs were first written: ``(section path, old key, new key)``. A config
#: (or a checkpoint's stored config) with an old key loads as if it had the new one.
_RENAMED: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("losses", "cycle"), "lr_pixel", "lq_pixel"),
    (("losses", "cycle"), "lr_adversarial", "lq_adversarial"),
)


def migrate_plain(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with renamed keys moved to their new names (a copy where anything moved).

    Raises:
        ConfigError: When a section holds both the old and the new key.
    """
    out = data
    for path, old, new in _RENAMED:
        section: Any = data
        for key in path:
            section = section.get(key) if isinstance(section, dict) else None
        if not isinstance(section, dict) or old not in section:
            continue
        where = ".".join(path)
        if new in section:
            raise ConfigError(f"{where}: {old!r} is the old name of {new!r}; give one of them")
        if out is data:
            import copy

            out = copy.deepcopy(data)
        target = out
        for key in path:
            target = target[key]
        target[new] = target.pop(old)
    return out


def config_from_plain(data: dict[str, Any], *, validate: bool = True) -> ExperimentConfig:
    """Typed config from plain data, checked (see :func:`medsr.config.validate.validate_config`).

    Raises:
        ConfigError: On any problem, naming the key.
    """
    cfg = from_plain(ExperimentConfig, migrate_plain(data))
    if validate:
        from medsr.config.validate import validate_config

        validate_config(cfg)
    return cfg


def load_config(
    path: str | os.PathLike[str], *, overrides: Sequence[str] = (), validate: bool = True
) -> ExperimentConfig:
    """Read a YAML config, apply ``--set`` overrides, check types and cross-references.

    Nothing is read but the YAML file (and the existence of named weight files): the check
    happens before any data is loaded.

    Args:
        path: The YAML file.
        overrides: ``key.sub=value`` strings.
        validate: Run the cross-section checks.

    Returns:
        The typed config.

    Raises:
        ConfigError: On any problem, naming the file and the key.
    """
    data = apply_overrides(read_yaml(path), overrides)
    try:
        return config_from_plain(data, validate=validate)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def dump_yaml(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML text (keys in schema order)."""
    import yaml

    return str(yaml.safe_dump(to_plain(cfg), sort_keys=False, default_flow_style=None))


def diff_plain(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two plain configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            sub = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                out.append(sub)
            else:
                out.extend(diff_plain(a[key], b[key], sub))
        return out
    return [] if a == b else [prefix or "<root>"]
