"""Run a blocking function (model or data loading) off the GUI thread.

The result or the exception comes back as a queued Qt signal, so callbacks
always run on the GUI thread.

A call is never a Qt child of the widget that asked for it: deleting that widget (closing a dialog or the
window while a model still loads) would delete the call's C++ object under the thread that is about to emit
from it, a use-after-free that crashes the process. The call keeps itself alive in :data:`_RUNNING` until its
result is back on the GUI thread, and drops the result quietly if its owner was destroyed meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

_RUNNING: set["BackgroundCall"] = set()  # calls whose thread runs or whose result is not yet delivered


class BackgroundCall(QObject):
    """``fn()`` in a daemon thread; emits ``succeeded(result)`` or ``failed(exception)`` on the GUI thread.

    ``owner``: the object the result is for; once it is destroyed the result is dropped, never delivered.
    ``reports``: ``fn`` takes one argument, :meth:`tell`, which it calls from its thread with progress values;
    each arrives as ``told(value)`` on the GUI thread (dropped too once the owner is gone).
    """

    succeeded = Signal(object)
    failed = Signal(object)
    told = Signal(object)
    _done = Signal(bool, object)
    _told = Signal(object)

    def __init__(self, fn: Callable[..., Any], owner: QObject | None = None, reports: bool = False):
        super().__init__()  # no Qt parent, on purpose (module docstring)
        self._fn = fn
        self._reports = reports
        self.owner_gone = False
        if owner is not None:
            owner.destroyed.connect(self._orphan)
        self._done.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        self._told.connect(self._relay, Qt.ConnectionType.QueuedConnection)
        self.thread = threading.Thread(target=self._target, name="studio-background", daemon=True)

    def start(self) -> "BackgroundCall":
        _RUNNING.add(self)
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        return self in _RUNNING

    def tell(self, value: object) -> None:
        """From the call's thread: hand ``value`` to the ``told`` signal on the GUI thread."""
        self._told.emit(value)

    def _target(self) -> None:
        try:
            result = self._fn(self.tell) if self._reports else self._fn()
        except BaseException as exc:  # handed to the GUI, which decides how to show it
            self._done.emit(False, exc)
        else:
            self._done.emit(True, result)

    @Slot()
    def _orphan(self) -> None:
        self.owner_gone = True

    @Slot(object)
    def _relay(self, value: object) -> None:
        if not self.owner_gone and self in _RUNNING:
            self.told.emit(value)

    @Slot(bool, object)
    def _finish(self, ok: bool, value: object) -> None:
        _RUNNING.discard(self)
        if not self.owner_gone:
            (self.succeeded if ok else self.failed).emit(value)
        self.deleteLater()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[BaseException], None],
                      owner: QObject | None = None, on_told: Callable[[Any], None] | None = None) -> BackgroundCall:
    """Start ``fn()`` off the GUI thread; ``on_done(result)`` or ``on_error(exception)`` runs on the GUI thread
    unless ``owner`` has been destroyed by then. With ``on_told``, ``fn(tell)`` is called instead, and each
    ``tell(value)`` from its thread becomes ``on_told(value)`` on the GUI thread."""
    call = BackgroundCall(fn, owner, reports=on_told is not None)
    if on_told is not None:
        call.told.connect(on_told)
    call.succeeded.connect(on_done)
    call.failed.connect(on_error)
    return call.start()
