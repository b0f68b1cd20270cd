"""Events as JSON lines: how a run or a study worker in another process tells the studio what happens.

Rank 0 of a multi-process run and each ``bert-studio study worker`` the studio starts write them.
Generic over the event dataclasses of :mod:`core.events` (run and study events alike): an event travels as
its class name and its fields; tuples (masks, scores, step titles) come back as tuples. Only classes of that
module are rebuilt.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import typing
from pathlib import Path

from core import events as ev


@functools.cache
def event_classes() -> dict[str, type]:
    """Every event class of :mod:`core.events`, by name (new ones are found without registering)."""
    return {name: obj for name, obj in vars(ev).items()
            if isinstance(obj, type) and issubclass(obj, ev.BaseEvent) and dataclasses.is_dataclass(obj)}


def encode(event: ev.BaseEvent) -> str:
    """One line of JSON (no newline) holding ``event``'s class name and fields."""
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return json.dumps({"type": type(event).__name__, "data": data}, default=str)


@functools.cache
def _tuple_fields(cls: type) -> frozenset[str]:
    """The fields of ``cls`` that hold tuples (JSON brings them back as lists); worked out once per class."""
    return frozenset(key for key, hint in typing.get_type_hints(cls).items() if _holds_tuple(hint))


def _holds_tuple(hint) -> bool:
    if hint is tuple or typing.get_origin(hint) is tuple:
        return True
    return any(_holds_tuple(arg) for arg in typing.get_args(hint))


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def decode(line: str) -> ev.BaseEvent:
    """The event :func:`encode` wrote; raises ``ValueError`` for an unknown class or a malformed line."""
    try:
        message = json.loads(line)
        name, data = message["type"], dict(message["data"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not an event line: {line[:200]!r}") from exc
    cls = event_classes().get(name)
    if cls is None:
        raise ValueError(f"unknown event class {name!r}")
    for key in _tuple_fields(cls) & data.keys():
        data[key] = _tuples(data[key])
    return cls(**data)


class EventWriter:
    """Appends every event published on ``bus`` (run and study events) to ``path``, one flushed line each."""

    def __init__(self, bus: ev.EventBus, path: str | Path):
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(ev.BaseEvent, self._write)

    def _write(self, event: ev.BaseEvent) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(encode(event) + "\n")
                self._file.flush()

    def close(self) -> None:
        self._unsubscribe()
        with self._lock:
            self._file.close()


class EventReader:
    """Reads the complete lines added to an event file since the last call (the file may not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read(self) -> list[ev.BaseEvent]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for its end
        return [decode(line.decode("utf-8")) for line in lines if line.strip()]
