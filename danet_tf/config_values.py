"""A config value, from YAML or ``--set``, converted to its field's type annotation and
checked against the field's ``metadata`` (``choices``, ``min``, ``max``); every error names
the field (`danet_tf.config`)."""

from __future__ import annotations

import math
import types
import typing
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config key or value that cannot be used; the message names the field."""


def coerce(name: str, value: Any, hint: Any, meta: dict[str, Any]) -> Any:
    """``value`` as type ``hint`` (unions with None, fixed and variable tuples, dicts, bool,
    int, float, str), checked against ``meta``; raises ``ConfigError`` naming ``name``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return coerce(name, value, inner[0], meta)
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str):
            value = [v for v in value.replace("x", ",").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        if len(args) != 2 or args[1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{name}: expected {len(args)} values, got {value!r}")
        elem = args[0]
        return tuple(coerce(f"{name}[{i}]", v, elem, meta) for i, v in enumerate(value))
    if origin is dict:
        _, val_t = typing.get_args(hint)
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {value!r}")
        return {str(k): coerce(f"{name}.{k}", v, val_t, meta) for k, v in value.items()}
    return _check(name, _scalar(name, value, hint), meta)


def _scalar(name: str, value: Any, hint: Any) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    raise TypeError(f"{name}: unsupported field type {hint!r}")


def _check(name: str, value: Any, meta: dict[str, Any]) -> Any:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{name}: expected one of {list(choices)}, got {value!r}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{name}: expected >= {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{name}: expected <= {meta['max']}, got {value!r}")
    return value
