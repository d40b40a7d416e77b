"""A stand-in for the standard library's ``dataclasses``, for one measurement only.

``make bench`` runs a healthy ``dind-preflight run`` twice in turn: as shipped, and with this
directory first on ``PYTHONPATH``. The difference is what the project's frozen dataclasses cost
the path every job pays: importing ``dataclasses`` (which imports ``inspect``, ``ast``, ``dis``
and ``tokenize``) and generating each class's methods with ``exec``. This stand-in imports
nothing and generates nothing: one shared ``__init__``, ``__eq__`` and ``__hash__`` read the
field list. It is enough for the healthy path (the run must still exit 0 and say healthy); it is
not a dataclasses implementation and nothing else may use it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing at run time: this measures what the healthy path pays
if TYPE_CHECKING:
    from typing import Any

MISSING: Any = object()


class FrozenInstanceError(AttributeError):
    """Raised by the real module on assignment to a frozen instance (never here)."""


class Field:
    """A field's name and default."""

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory


def field(*, default: Any = MISSING, default_factory: Any = MISSING, **_: Any) -> Any:
    """The real ``field`` for the options the healthy path uses (``repr`` etc. are ignored)."""
    return Field(default, default_factory)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a class or instance, in order."""
    return tuple(obj.__dataclass_fields__.values())


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    specs = self.__dataclass_fields__
    for name, value in zip(specs, args, strict=False):
        kwargs[name] = value
    for name, spec in specs.items():
        if name in kwargs:
            value = kwargs[name]
        elif spec.default_factory is not MISSING:
            value = spec.default_factory()
        elif spec.default is not MISSING:
            value = spec.default
        else:
            raise TypeError(f"missing argument: {name}")
        object.__setattr__(self, name, value)
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _values(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, name) for name in obj.__dataclass_fields__)


def _eq(self: Any, other: Any) -> Any:
    if type(self) is not type(other):
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def dataclass(cls: Any = None, /, **_: Any) -> Any:
    """Record the fields (annotations, bases first) and attach the shared methods."""

    def wrap(klass: Any) -> Any:
        specs: dict[str, Field] = {}
        for base in reversed(klass.__mro__[1:]):
            specs.update(getattr(base, "__dataclass_fields__", {}))
        # not inspect.get_annotations: importing inspect is part of what this leaves out
        for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063
            value = klass.__dict__.get(name, MISSING)
            spec = value if isinstance(value, Field) else Field(default=value)
            if isinstance(value, Field):
                if spec.default is MISSING:
                    delattr(klass, name)
                else:
                    setattr(klass, name, spec.default)
            spec.name = name
            specs[name] = spec
        klass.__dataclass_fields__ = specs
        klass.__init__ = _init
        klass.__eq__ = _eq
        klass.__hash__ = _hash
        return klass

    return wrap if cls is None else wrap(cls)


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of ``obj`` with ``changes``."""
    values = dict(zip(obj.__dataclass_fields__, _values(obj), strict=True))
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> dict[str, Any]:
    """The fields as a dict (not recursive: the healthy path does not call it)."""
    return dict(zip(obj.__dataclass_fields__, _values(obj), strict=True))


def is_dataclass(obj: Any) -> bool:
    """Whether ``obj`` (a class or an instance) went through :func:`dataclass`."""
    return hasattr(obj, "__dataclass_fields__")


__all__ = [
    "MISSING",
    "FrozenInstanceError",
    "asdict",
    "dataclass",
    "field",
    "fields",
    "is_dataclass",
    "replace",
]
