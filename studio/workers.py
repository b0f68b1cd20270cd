"""Run a blocking function (model or data loading) off the GUI thread.

The result or the exception comes back as a queued Qt signal, so callbacks
always run on the GUI thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot


class BackgroundCall(QObject):
    """``fn()`` in a daemon thread; emits ``succeeded(result)`` or ``failed(exception)`` on the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(object)
    _done = Signal(bool, object)

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._done.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        self.thread = threading.Thread(target=self._target, name="studio-background", daemon=True)

    def start(self) -> "BackgroundCall":
        self.thread.start()
        return self

    def _target(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # handed to the GUI, which decides how to show it
            self._done.emit(False, exc)
        else:
            self._done.emit(True, result)

    @Slot(bool, object)
    def _finish(self, ok: bool, value: object) -> None:
        (self.succeeded if ok else self.failed).emit(value)
        self.deleteLater()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[BaseException], None],
                      parent: QObject | None = None) -> BackgroundCall:
    call = BackgroundCall(fn, parent)
    call.succeeded.connect(on_done)
    call.failed.connect(on_error)
    return call.start()
