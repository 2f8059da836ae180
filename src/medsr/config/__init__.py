"""Typed experiment configs: YAML load / dump, ``--set`` overrides, load-time validation.

``load_config("configs/dfgan.yaml", overrides=["train.steps=100"])`` returns an
:class:`ExperimentConfig`; every problem is a :class:`~medsr.errors.ConfigError` naming the key.
"""

from medsr.config.load import (
    apply_overrides,
    config_from_plain,
    diff_plain,
    dump_yaml,
    load_config,
    parse_override,
    read_yaml,
)
from medsr.config.schema import ROLES, ExperimentConfig
from medsr.config.typed import from_plain, to_plain
from medsr.config.validate import validate_config

__all__ = [
    "ROLES",
    "ExperimentConfig",
    "apply_overrides",
    "config_from_plain",
    "diff_plain",
    "dump_yaml",
    "from_plain",
    "load_config",
    "parse_override",
    "read_yaml",
    "to_plain",
    "validate_config",
]
