"""Settings dataclasses: fields declared with :func:`setting`, read as :class:`FieldInfo`, built by :func:`build_config`.

Each field's metadata holds its help text and optional range or choices; the
recipe validator, the CLI and the studio's forms read them through
:func:`config_fields`, and :func:`build_config` coerces plain data into a
settings object, naming every error.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


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
    """Declare a settings field with its user-facing metadata.

    ``min`` and ``max`` bound a number, or the length of a text.
    """
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
    item_type: type | None = None  # the type of each item of a list field


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
        item_args = typing.get_args(tp) if typing.get_origin(tp) in (list, tuple) else ()
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
                item_type=item_args[0] if len(item_args) == 1 and isinstance(item_args[0], type) else None,
            )
        )
    return out


# Values in messages are cut short: a value of a megabyte must not become a message of a megabyte.
_brief_repr = reprlib.Repr()
_brief_repr.maxstring = _brief_repr.maxother = 60
_brief_repr.maxlist = _brief_repr.maxtuple = _brief_repr.maxdict = 6
_brief_repr.maxlevel = 3


def brief(value: Any) -> str:
    """``repr(value)``, shortened for a message."""
    return _brief_repr.repr(value)


def _coerce(value: Any, tp: Any, optional: bool) -> Any:
    if value is None:
        if optional:
            return None
        raise ValueError("a value is required")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"expected true or false, got {brief(value)}")
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected a whole number, got {brief(value)}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {brief(value)}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {brief(value)}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {brief(value)}") from None
        if not math.isfinite(number):  # NaN slips through every comparison with a bound
            raise ValueError(f"expected a finite number, got {brief(value)}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {brief(value)}")
        return value
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    return value


def _coerce_field(value: Any, info: FieldInfo) -> Any:
    if info.type in (list, tuple) and value is not None:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {brief(value)}")
        items = []
        for n, item in enumerate(value, 1):
            try:
                items.append(_coerce(item, info.item_type, False) if info.item_type else item)
            except ValueError as exc:
                raise ValueError(f"item {n}: {exc}") from None
        return items
    return _coerce(value, info.type, info.optional)


def _non_finite(value: Any) -> bool:
    """Whether ``value`` is or holds (in lists and mappings) a NaN or an infinity."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def check_field(info: FieldInfo, value: Any) -> tuple[Any, str | None]:
    """Coerce ``value`` for ``info``; return it with an error message or ``None``."""
    try:
        value = _coerce_field(value, info)
    except ValueError as exc:
        return value, str(exc)
    if value is None:
        return value, None
    if _non_finite(value):
        return value, f"expected finite numbers, got {brief(value)}"
    try:
        chosen = info.choices is None or value in info.choices
    except TypeError:  # an unhashable value against a set of choices
        chosen = False
    if not chosen:
        return value, f"must be one of {', '.join(map(str, info.choices))}; got {brief(value)}"
    if isinstance(value, str):
        if "\x00" in value:  # PostgreSQL refuses NUL in text: a name with one would fail only when it is recorded
            return value, "must not contain a NUL character (\\x00)"
        if info.min is not None and len(value) < info.min:
            return value, "must not be empty" if info.min == 1 else f"must be at least {info.min:g} characters; got {len(value)}"
        if info.max is not None and len(value) > info.max:
            return value, f"must be at most {info.max:g} characters; got {len(value)}"
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
            errors.append((str(key), f"unknown setting (known: {', '.join(infos)})"))
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


def settings_dict(cfg: Any) -> dict[str, Any] | None:
    """A built settings object as plain data (None for none)."""
    return dataclasses.asdict(cfg) if cfg is not None and dataclasses.is_dataclass(cfg) else None
