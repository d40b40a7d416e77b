"""JSON round-trips for the frozen dataclasses passed between stages.

``to_json`` turns a dataclass tree (enums, tuples, lists, dicts, optionals) into plain JSON data;
``from_json`` rebuilds it from the type hints, ignoring unknown keys so that readers stay
compatible with writers that added fields.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """Convert a dataclass tree into JSON-compatible data (dicts, lists, str, numbers, None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(cls: type[T], data: Any) -> T:
    """Build an instance of dataclass ``cls`` from JSON data produced by :func:`to_json`."""
    return typing.cast(T, _convert(cls, data))


_hints_cache: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _hints_cache:
        _hints_cache[cls] = get_type_hints(cls)
    return _hints_cache[cls]


def _convert(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        last_error: Exception | None = None
        for option in options:
            try:
                return _convert(option, data)
            except (TypeError, ValueError, KeyError) as exc:
                last_error = exc
        raise ValueError(f"no type of {tp} fits {data!r}") from last_error
    if origin in (list, tuple):
        args = get_args(tp)
        item = args[0] if args else Any
        items = [_convert(item, v) for v in data]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        _, val_t = get_args(tp) or (str, Any)
        return {k: _convert(val_t, v) for k, v in data.items()}
    if tp is Any:
        return data
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError(f"{tp.__name__} needs an object, got {type(data).__name__}")
        hints = _hints(tp)
        missing = [
            f.name
            for f in dataclasses.fields(tp)
            if f.init
            and f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValueError(f"{tp.__name__} lacks the field(s) {', '.join(missing)}")
        kwargs = {
            f.name: _convert(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data and f.init
        }
        return tp(**kwargs)
    if tp is float and isinstance(data, int):
        return float(data)
    if isinstance(tp, type) and not isinstance(data, tp):
        raise TypeError(f"expected {tp.__name__}, got {type(data).__name__}")
    return data
