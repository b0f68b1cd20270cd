"""Events as JSON lines (the multi-process run's link to the studio): every event class round-trips."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from core import events as ev
from core.engine.event_stream import EventReader, EventWriter, decode, encode, event_classes


def _sample(hint):
    """A value of type ``hint``, built from the hint alone (masks take 0/1, so numbers here are 0 or 1)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_sample(args[0]), _sample(args[0]))
        return tuple(_sample(a) for a in args)
    return {str: "word", int: 3, float: 1.0, bool: True,
            dict: {"accuracy": 0.5, "nested": {"list": [1, 2]}, "text": "ok"}}[hint]


def _instance(cls):
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls) if f.name != "time"}, time=12.5)


def test_every_event_class_is_found():
    names = set(event_classes())
    assert {"RunStarted", "Progress", "MaskUpdate", "StepFinished", "RunFinished", "RunFailed", "Event"} <= names
    assert len(names) >= 12


@pytest.mark.parametrize("name", sorted(event_classes()))
def test_every_event_class_round_trips(name):
    event = _instance(event_classes()[name])
    line = encode(event)
    assert "\n" not in line
    back = decode(line)
    assert type(back) is type(event) and back == event


def test_unknown_classes_and_broken_lines_are_refused():
    with pytest.raises(ValueError, match="unknown event class 'Exploit'"):
        decode('{"type": "Exploit", "data": {}}')
    with pytest.raises(ValueError, match="not an event line"):
        decode("{half")


def test_a_writer_and_a_reader_pass_events_through_a_file_line_by_line(tmp_path):
    bus, path = ev.EventBus(), tmp_path / "events.jsonl"
    reader = EventReader(path)
    assert reader.read() == []  # not written yet
    writer = EventWriter(bus, path)
    bus.publish(ev.Progress(run_id="r", index=0, current=1, total=4))
    with path.open("a") as f:
        f.write('{"type": "Progress", "data": {"run_id": "r"')  # a line still being written waits
    first = reader.read()
    assert [type(e).__name__ for e in first] == ["Progress"] and first[0].current == 1
    writer.close()
    with path.open("a") as f:
        f.write(', "index": 0, "current": 2, "total": 4, "time": 1.0}}\n')
    assert [e.current for e in reader.read()] == [2]
    bus.publish(ev.Progress(run_id="r", index=0, current=3, total=4))  # after close: not written
    assert reader.read() == []
