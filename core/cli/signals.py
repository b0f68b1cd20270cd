"""SIGINT and SIGTERM in every command: one handler, installed once by :func:`core.cli.main` (:func:`handling`).

Both signals mean "stop": Ctrl-C in a terminal, SIGTERM from ``kill``, a service manager, a batch
scheduler or a container runtime. Every command answers them the same way:

- A command that works on the main thread (``export``, ``bench``, the short ones) stops where it is:
  the first signal raises :class:`Interrupted` (a ``KeyboardInterrupt``, so ``finally`` blocks and
  staging folders clean up as they always did on Ctrl-C), and :func:`core.cli.main` exits with
  :func:`exit_code`. A second signal while that unwinds leaves at once.
- A command whose work runs on another thread (``run``, ``study run``, ``study worker``) waits in
  :func:`cooperative`: the first signal only sets :attr:`Interrupts.requested` (the command cancels its
  run at the next batch and records it); the second raises :class:`StopNow` in the main thread (the
  command records what it has as cancelled and leaves without waiting for the thread); a third leaves
  with ``os._exit`` whatever it costs.

The exit status is the shell's: 128 plus the first signal's number, 130 for SIGINT and 143 for SIGTERM.
Why not Python's default: its ``KeyboardInterrupt`` lands inside ``Thread.join`` (which on Python 3.11
marks a still-running thread as stopped, and the interpreter then exits beside a running torch thread:
"terminate called without an active exception", exit 134), and its default SIGTERM ends the process
without recording anything.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The first SIGINT or SIGTERM in a command that works on the main thread."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class StopNow(BaseException):
    """The second signal in a :func:`cooperative` command: record what is there and leave without waiting."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Interrupts:
    """What the handler saw: how many signals, the first one's number, and whether a stop was asked for."""

    def __init__(self) -> None:
        self.count = 0
        self.signum: int | None = None
        self.requested = threading.Event()
        self.cooperative = False
        self.on_first: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        """How the user asked: ``Ctrl-C`` or ``SIGTERM``."""
        return "SIGTERM" if self.signum == signal.SIGTERM else "Ctrl-C"

    def cancel_message(self, what: str) -> str:
        """``cancelling: WHAT (Ctrl-C again stops at once)``, or the same after SIGTERM."""
        lead = "cancelling" if self.name == "Ctrl-C" else "SIGTERM received, cancelling"
        again = "Ctrl-C again" if self.name == "Ctrl-C" else "a second signal"
        return f"{lead}: {what} ({again} stops at once)"

    def exit_code(self) -> int:
        return 128 + int(self.signum or signal.SIGINT)


_state = Interrupts()


def state() -> Interrupts:
    return _state


def exit_code() -> int:
    """130 after SIGINT (or when no signal came: a cancel is the user's Ctrl-C by other means), 143 after SIGTERM."""
    return _state.exit_code()


@contextmanager
def handling() -> Iterator[Interrupts]:
    """Handle SIGINT and SIGTERM within (main thread only: elsewhere Python cannot); the old handlers after."""
    global _state
    if threading.current_thread() is not threading.main_thread():
        yield _state
        return
    _state = Interrupts()
    previous = {signum: signal.signal(signum, _handle) for signum in HANDLED}
    try:
        yield _state
    finally:
        for signum, handler in previous.items():
            # After a signal the command is on its way out with its exit code: a late signal (the user's second
            # one, while the interpreter exits) must not kill it with the default handler instead.
            signal.signal(signum, signal.SIG_IGN if _state.count else handler)


def _handle(signum: int, _frame) -> None:
    s = _state
    s.count += 1
    if s.signum is None:
        s.signum = signum
    if s.count > 2 or (s.count == 2 and not s.cooperative):
        os._exit(s.exit_code())  # the user insists while the command unwinds or records: leave now
    if not s.cooperative:
        raise Interrupted(signum)
    if s.count == 1:
        s.requested.set()
        if s.on_first is not None:
            s.on_first()
        return
    raise StopNow(signum)


@contextmanager
def cooperative(on_first: Callable[[], None] | None = None) -> Iterator[Interrupts]:
    """Within: the first signal sets ``requested`` (and calls ``on_first``), the second raises :class:`StopNow`.

    After a signal the command is on its way out with :func:`exit_code`: a late one, while it closes its
    database, is ignored rather than turned into a traceback. Outside :func:`handling` (a command called
    as a function) the handler is installed for the time of the block.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not _handle:
        with handling():
            with cooperative(on_first) as s:
                yield s
        return
    s = _state
    s.cooperative, s.on_first = True, on_first
    try:
        yield s
    finally:
        s.on_first = None
        s.cooperative = False
        if s.count and threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                signal.signal(signum, signal.SIG_IGN)


@contextmanager
def ignoring() -> Iterator[None]:
    """Ignore both signals for a moment (closing databases at the very end of a command)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
