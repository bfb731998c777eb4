"""Turn plain mappings (composed YAML) into typed dataclasses, or fail with one line.

A small, strict validator: unknown keys, wrong types, values outside a
``Literal`` and numbers outside the bounds given in a field's metadata
(``ge``, ``gt``, ``le``, ``lt``) each raise :class:`ConfigError` naming the
dotted key and what is allowed. Used for the whole config and for every
model's ``Params`` dataclass, so both speak the same language.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from recsys_cli.errors import ConfigError

T = TypeVar("T")

_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, validating every value."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a mapping of keys, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_join(where, str(unknown[0]))}: unknown key; allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = coerce(hints[name], data[name], _join(where, name), field.metadata)
    return cls(**kwargs)


def coerce(tp: Any, value: Any, where: str, meta: Mapping[str, Any] | None = None) -> Any:
    """Check ``value`` against type ``tp`` (converting int->float and the like)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return coerce(option, value, where, meta)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{where}: {value!r} is not allowed; expected {_describe(tp)}")
    if origin is Literal:
        if value in args:
            return value
        allowed = ", ".join(str(a) for a in args)
        raise ConfigError(f"{where}: {value!r} is not allowed; choose one of: {allowed}")
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [coerce(inner, v, f"{where}[{i}]", meta) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        inner = args[1] if len(args) == 2 else Any
        return {str(k): coerce(inner, v, _join(where, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return _check_bounds(value, where, meta)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return _check_bounds(float(value), where, meta)
    if tp is str:
        if isinstance(value, bool) or isinstance(value, (list, dict, Mapping)) or value is None:
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"schema type {tp!r} at {where} is not supported")  # a bug, not user input


def _check_bounds(value: float, where: str, meta: Mapping[str, Any] | None) -> Any:
    if not meta:
        return value
    checks = (
        ("ge", lambda v, b: v >= b, ">="),
        ("gt", lambda v, b: v > b, ">"),
        ("le", lambda v, b: v <= b, "<="),
        ("lt", lambda v, b: v < b, "<"),
    )
    for key, ok, sign in checks:
        if key in meta and not ok(value, meta[key]):
            raise ConfigError(f"{where}: must be {sign} {meta[key]}, got {value!r}")
    return value


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    return _TYPE_WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def to_dict(obj: Any) -> Any:
    """A dataclass (or nested one) as plain dicts/lists, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def bound(default: Any = dataclasses.MISSING, **limits: float) -> Any:
    """A dataclass field with numeric bounds: ``factors: int = bound(64, ge=1)``."""
    return dataclasses.field(default=default, metadata=limits)
