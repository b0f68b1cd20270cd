"""The method registry: each compression method is a settings dataclass plus a handler.

A method registers itself with :func:`register_method`; the recipe validator, the
CLI and the studio's palette and forms are all built from this metadata alone.
Settings fields are declared with :func:`setting`, which records a help text and
optional range or choices in the field's metadata.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

FAMILIES = (
    "training",
    "pruning",
    "factorization",
    "distillation",
    "sharing",
    "quantization",
    "analysis",
)


def setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple | None = None,
    label: str | None = None,
    optional: bool = False,
) -> Any:
    """Declare a settings field with its user-facing metadata."""
    meta = {"help": help, "min": min, "max": max, "choices": choices, "label": label, "optional": optional}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class FieldInfo:
    """One settings field as the GUI and validator see it."""

    name: str
    type: type
    default: Any
    help: str
    label: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    optional: bool = False


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    ``trains`` marks methods that update weights by gradient descent and so need
    a float model; ``freezes`` marks methods whose output cannot be trained any
    more (a real int8 conversion); ``accepts_frozen`` marks methods that can
    still run after such a step (evaluation, analysis). The stack validator uses
    all three.
    """

    name: str
    family: str
    title: str
    description: str
    config_cls: type
    apply: Callable[..., Any]
    trains: bool = False
    freezes: bool = False
    accepts_frozen: bool = False
    version: int = 1

    def fields(self) -> list[FieldInfo]:
        return config_fields(self.config_cls)

    def default_settings(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config_cls())


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register_method(
    name: str,
    *,
    family: str,
    title: str,
    description: str,
    config: type,
    trains: bool = False,
    freezes: bool = False,
    accepts_frozen: bool = False,
    version: int = 1,
) -> Callable:
    """Decorator registering ``fn(state, config, ctx) -> state`` as a method."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"settings of {name!r} must be a dataclass")

    def decorate(fn: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].apply is not fn:
            raise ValueError(f"method {name!r} registered twice")
        _REGISTRY[name] = MethodSpec(name, family, title, description, config, fn, trains, freezes, accepts_frozen, version)
        return fn

    return decorate


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module("core.methods")


def get_method(name: str) -> MethodSpec:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown method {name!r} (known: {known})") from None


def all_methods() -> list[MethodSpec]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda s: (FAMILIES.index(s.family), s.name))


def _resolve_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base_type(tp: Any) -> tuple[type, bool]:
    """Strip ``X | None`` to ``(X, True)``."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else object), True
    return tp, False


def config_fields(cls: type) -> list[FieldInfo]:
    hints = _resolve_types(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, nullable = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        m = f.metadata
        out.append(
            FieldInfo(
                name=f.name,
                type=typing.get_origin(tp) or tp,
                default=default,
                help=m.get("help", ""),
                label=m.get("label") or f.name.replace("_", " ").capitalize(),
                min=m.get("min"),
                max=m.get("max"),
                choices=m.get("choices"),
                optional=nullable or m.get("optional", False),
            )
        )
    return out


def _coerce(value: Any, info: FieldInfo) -> Any:
    if value is None:
        if info.optional:
            return None
        raise ValueError("a value is required")
    tp = info.type
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected a whole number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        return value
    if tp in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        return list(value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    return value


def check_field(info: FieldInfo, value: Any) -> tuple[Any, str | None]:
    """Coerce ``value`` for ``info``; return it with an error message or ``None``."""
    try:
        value = _coerce(value, info)
    except ValueError as exc:
        return value, str(exc)
    if value is None:
        return value, None
    if info.choices is not None and value not in info.choices:
        return value, f"must be one of {', '.join(map(str, info.choices))}; got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if info.min is not None and value < info.min:
            return value, f"must be at least {info.min}; got {value}"
        if info.max is not None and value > info.max:
            return value, f"must be at most {info.max}; got {value}"
    return value, None


def build_config(cls: type, data: dict[str, Any] | None) -> tuple[Any | None, list[tuple[str, str]]]:
    """Build a settings object from plain data.

    Returns ``(config, [])`` or ``(None, [(field, message), ...])``; unknown keys
    are errors too, so a typo in a recipe never passes silently.
    """
    data = dict(data or {})
    infos = {i.name: i for i in config_fields(cls)}
    errors: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {}
    for key in data:
        if key not in infos:
            errors.append((key, f"unknown setting (known: {', '.join(infos)})"))
    for name, info in infos.items():
        if name not in data:
            continue
        value, err = check_field(info, data[name])
        if err:
            errors.append((name, err))
        else:
            kwargs[name] = value
    if errors:
        return None, errors
    cfg = cls(**kwargs)
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        for fld, msg in validate() or []:
            errors.append((fld, msg))
    return (None, errors) if errors else (cfg, [])
