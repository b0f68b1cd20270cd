"""A data-parallel rank is judged silent by its heartbeat count not moving while the judging rank waits on its own
clock, so ranks on machines whose clocks disagree never call a live peer dead (issue 22, part 3)."""

from __future__ import annotations

import os
import socket

import pytest

from core.engine import distributed


class Store:
    """The launcher's key-value store, as torch.distributed's TCPStore answers."""

    def __init__(self):
        self.data: dict[str, bytes] = {}

    def set(self, key, value):
        self.data[key] = value.encode() if isinstance(value, str) else value

    def get(self, key):
        return self.data[key]

    def check(self, keys):
        return all(k in self.data for k in keys)


@pytest.fixture
def two_ranks(monkeypatch):
    store = Store()
    monkeypatch.setattr(distributed._state, "store", store)
    monkeypatch.setattr(distributed._state, "rank", 0)
    monkeypatch.setattr(distributed._state, "world", 2)
    return store


def _beat(store, count, pid=None):
    store.set(distributed._key("alive", 1), f"{count}|{pid or os.getpid()}@{socket.gethostname()}")


def test_a_peer_whose_count_moved_is_alive_whatever_its_clock(two_ranks):
    # the old heartbeat was a timestamp: a peer whose clock ran 10 minutes behind looked silent for 600 s
    _beat(two_ranks, 7)
    before = distributed._beat(1)
    _beat(two_ranks, 8)
    assert distributed._peer_state(1, before, age=distributed.SILENT_AFTER + 1) == []


def test_a_peer_whose_count_stood_still_is_named_with_how_long(two_ranks):
    _beat(two_ranks, 7)  # this very process: it exists, so the peer "stopped answering"
    said = distributed._peer_state(1, distributed._beat(1), age=distributed.SILENT_AFTER + 1)
    assert len(said) == 1 and "process rank 1 of 2" in said[0] and "stopped answering" in said[0]
    assert f"no heartbeat for {distributed.SILENT_AFTER + 1:.1f} s" in said[0]


def test_a_wait_shorter_than_the_silence_bound_judges_nobody(two_ranks):
    _beat(two_ranks, 7)
    assert distributed._peer_state(1, distributed._beat(1), age=distributed.SILENT_AFTER / 2) == []


def test_a_reported_failure_and_a_missing_heartbeat_are_said(two_ranks):
    assert "never started its heartbeat" in distributed._peer_state(1, None, age=99)[0]
    two_ranks.set(distributed._key("failed", 1), "CUDA out of memory")
    assert distributed._peer_state(1, None, age=0) == ["process rank 1 of 2 failed: CUDA out of memory"]
