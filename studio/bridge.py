"""Hop engine events from the run thread onto the GUI thread as Qt signals.

The engine's :class:`~core.events.EventBus` calls subscribers on the thread
that publishes: the listener thread that takes the worker process's events
off its pipe (:class:`~core.engine.process.ProcessEngine`, the studio's
default), or the run thread of an in-thread engine. :class:`EventBridge` receives them there,
emits one internal signal with a queued connection, and re-emits each event on
the GUI thread through a signal per event class, carrying the event object.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core import events as ev


class EventBridge(QObject):
    """Subscribes to ``bus`` and re-emits every core event on the GUI thread."""

    event = Signal(object)  # every event, after the typed signal below
    runStarted = Signal(object)
    stepStarted = Signal(object)
    progress = Signal(object)
    metric = Signal(object)
    maskUpdate = Signal(object)  # MaskUpdate: which structures a step keeps and removes
    importanceUpdate = Signal(object)  # ImportanceUpdate: scores of the structures, nothing removed
    checkpoint = Signal(object)
    stepFinished = Signal(object)
    logMessage = Signal(object)
    runFinished = Signal(object)
    runFailed = Signal(object)
    runCancelled = Signal(object)

    _incoming = Signal(object)

    def __init__(self, bus: ev.EventBus, parent: QObject | None = None):
        super().__init__(parent)
        self._typed = {
            ev.RunStarted: self.runStarted, ev.StepStarted: self.stepStarted, ev.Progress: self.progress,
            ev.Metric: self.metric, ev.MaskUpdate: self.maskUpdate, ev.ImportanceUpdate: self.importanceUpdate,
            ev.Checkpoint: self.checkpoint,
            ev.StepFinished: self.stepFinished, ev.LogMessage: self.logMessage, ev.RunFinished: self.runFinished,
            ev.RunFailed: self.runFailed, ev.RunCancelled: self.runCancelled,
        }
        # Queued explicitly: the emitting thread is a plain Python thread, never the GUI thread.
        self._incoming.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = None
        self.attach(bus)

    def attach(self, bus: ev.EventBus) -> None:
        """(Re-)subscribe to ``bus``, last in its delivery order."""
        self.close()
        self._unsubscribe = bus.subscribe(ev.Event, self._incoming.emit)

    def close(self) -> None:
        """Stop listening to the bus (idempotent)."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    @Slot(object)
    def _dispatch(self, event: ev.Event) -> None:
        signal = next((sig for cls, sig in self._typed.items() if isinstance(event, cls)), None)
        if signal is not None:
            signal.emit(event)
        self.event.emit(event)
