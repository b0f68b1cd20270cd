"""Cancellation and pause, checked cooperatively between steps and batches."""

from __future__ import annotations

import threading

from core.errors import RunCancelled


class RunControl:
    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # a paused run must wake up to notice

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check(self) -> None:
        """Block while paused; raise :class:`RunCancelled` once cancelled."""
        self._running.wait()
        if self._cancel.is_set():
            raise RunCancelled()
