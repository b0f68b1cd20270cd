"""Cancellation and pause, checked cooperatively between steps and batches."""

from __future__ import annotations

import threading
from typing import Callable

from core.errors import RunCancelled


class RunControl:
    """Two flags the run checks between batches, set from another thread (or process).

    ``context`` makes the flags ``multiprocessing`` events of that context, so a
    run in a worker process (:mod:`core.engine.process`) obeys the studio's
    pause and cancel; such a control must reach the worker as an argument of
    its ``Process`` (events cannot travel through queues). The default is
    plain ``threading`` events, for a run in a thread of this process.
    """

    def __init__(self, context=None) -> None:
        make = context.Event if context is not None else threading.Event
        self._cancel = make()
        self._running = make()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # a paused run must wake up to notice

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def reset(self) -> None:
        """Neither paused nor cancelled: lets one control serve a worker's runs one after another."""
        self._cancel.clear()
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check(self, on_hold: Callable[[bool], None] | None = None) -> None:
        """Block while paused; raise :class:`RunCancelled` once cancelled.

        ``on_hold(True)`` is called when this check starts holding the run, before it blocks, and
        ``on_hold(False)`` when it lets the run go (the run context publishes them as
        :class:`core.events.RunPaused` and :class:`core.events.RunResumed`). A pause that arrives after the
        check looked takes hold at the next check: the run never blocks without saying so.
        """
        if not self._running.is_set():
            if on_hold is not None:
                on_hold(True)
            self._running.wait()
            if on_hold is not None:
                on_hold(False)
        if self._cancel.is_set():
            raise RunCancelled()


def follow_control_file(path, target, stop: threading.Event, every: float = 0.2) -> threading.Thread:
    """A thread that applies the word in file ``path`` to ``target`` (``pause``, ``run`` or ``cancel``).

    How a process that started a run as a subprocess (the studio's multi-process runs) pauses or cancels
    it: ``target`` has ``pause``/``resume``/``cancel`` (a run handle); a missing file changes nothing.
    """
    from pathlib import Path

    def follow() -> None:
        seen = ""
        while not stop.wait(every):
            try:
                word = Path(path).read_text().strip()
            except OSError:
                continue
            if word == seen:
                continue
            seen = word
            {"pause": target.pause, "run": target.resume, "cancel": target.cancel}.get(word, lambda: None)()

    thread = threading.Thread(target=follow, name="control-file", daemon=True)
    thread.start()
    return thread
