"""Strict dataclass configs: JSON-ready dicts and strict construction from dicts (unknown keys are
errors with a suggestion). Every component config (model, training, heads) goes through these."""
from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any

from .errors import A4merError


def to_dict(obj: Any) -> Any:
    """Dataclass tree -> JSON-ready dict (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    return obj


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise A4merError(f"config {where}: expected a table, got {value!r}")
        return from_dict(tp, value, where)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise A4merError(f"config {where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, where) for v in value)
        return tuple(_convert(a, v, where) for a, v in zip(args, value))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    raise A4merError(f"config {where}: expected {getattr(tp, '__name__', tp)}, got {value!r}")


def from_dict(cls: type, d: dict[str, Any], where: str = "") -> Any:
    """Strict construction of dataclass ``cls`` from a nested dict (unknown keys are errors)."""
    if not isinstance(d, dict):
        raise A4merError(f"config {where or cls.__name__}: expected a table, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in d.items():
        if k not in names:
            near = difflib.get_close_matches(k, names, n=1)
            hint = f" (did you mean {where + '.' if where else ''}{near[0]}?)" if near else ""
            raise A4merError(f"unknown config key {where + '.' if where else ''}{k}{hint}")
        kwargs[k] = _convert(hints[k], v, f"{where}.{k}" if where else k)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise A4merError(f"config {where or cls.__name__}: {e}") from None
