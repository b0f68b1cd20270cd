"""Start, pause, resume and cancel runs; the studio's only door to the engine.

By default the engine is a :class:`~core.engine.process.ProcessEngine`: each
recipe runs in a warm worker process, so the run never holds this process's
GIL and the window stays responsive. (An in-thread :class:`~core.engine.Engine`
can be passed instead.) This controller holds the run's handle, records runs
in the database through the store's recorder (in this process, from the
events the worker sends), and turns the end of a run into Qt signals via
:class:`~studio.bridge.EventBridge`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core import events as ev
from core.engine import Engine, RunHandle
from core.engine.local_launch import LaunchHandle, LocalLaunchEngine
from core.engine.process import ProcessEngine, ProcessRunHandle
from core.recipe import Recipe
from studio.bridge import EventBridge
from studio.runs_store import RunsStore


# How much lower the run worker's CPU priority is than the studio's (POSIX nice increment):
# on a busy CPU the window's thread gets a core first; an idle CPU still goes to the run.
WORKER_NICENESS = 5


def studio_engine(**kwargs) -> ProcessEngine:
    """The engine the studio runs recipes with (``kwargs`` go to :class:`ProcessEngine`)."""
    return ProcessEngine(**{"niceness": WORKER_NICENESS, **kwargs})


class RunController(QObject):
    """Owns the engine, the event bridge and the current :class:`RunHandle`."""

    runningChanged = Signal(bool)
    pausedChanged = Signal(bool)

    def __init__(self, store: RunsStore | None = None, engine: Engine | ProcessEngine | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._owns_engine = engine is None  # a worker process this controller started, it also stops
        self.engine = engine or studio_engine()
        self.store = store or RunsStore()
        # The recorder subscribes before the bridge so a run is written before the GUI hears it ended.
        self.recorder = self.store.attach_recorder(self.engine.bus)
        self._use_cache_of(self.store)
        self.bridge = EventBridge(self.engine.bus, self)
        self.handle: RunHandle | ProcessRunHandle | LaunchHandle | None = None
        self.launcher = LocalLaunchEngine  # (db_url, processes) -> the engine of a multi-process run
        self._paused = False
        for signal in (self.bridge.runFinished, self.bridge.runFailed, self.bridge.runCancelled):
            signal.connect(self._on_terminal)

    @property
    def running(self) -> bool:
        return self.handle is not None and not self.handle.done and self.handle.result is None

    @property
    def multi_process(self) -> bool:
        """Whether the current run is one of several processes (started under torchrun)."""
        return isinstance(self.handle, LaunchHandle)

    @property
    def paused(self) -> bool:
        return self._paused

    def warm_up(self) -> None:
        """Start the engine's worker process now (if it has one), so the first run starts at once."""
        warm_up = getattr(self.engine, "warm_up", None)
        if warm_up is not None:
            warm_up()

    def start(self, recipe: Recipe, processes: int = 1) -> RunHandle | ProcessRunHandle | LaunchHandle:
        """Validate ``recipe`` (raises :class:`~core.errors.RecipeError`) and start it in the background.

        With ``processes`` > 1 it runs as that many local processes under torchrun (:mod:`core.engine.local_launch`):
        rank 0 records it into the store's database, the bridge follows its events from the launch's bus.
        """
        if self.running:
            raise RuntimeError("a run is already in progress")
        recipe = recipe.copy().validate()  # the run keeps its own copy; later edits do not reach it
        if processes > 1:
            url = getattr(self.store, "url", None)
            if not url:
                from core.errors import StudioError

                raise StudioError("a run on several processes records into a runs database; this studio has none")
            launcher = self.launcher(url, processes)
            self.bridge.attach(launcher.bus)  # not the recorder's bus: rank 0 records the run itself
            self.handle = launcher.start(recipe)
        else:
            self.bridge.attach(self.engine.bus)
            self.handle = self.engine.start(recipe)
        self._set_paused(False)
        self.runningChanged.emit(True)
        return self.handle

    def set_store(self, store: RunsStore) -> None:
        """Record later runs into ``store`` (not while a run goes: its rows would be split)."""
        if self.running:
            raise RuntimeError("a run is in progress")
        if self.recorder is not None:
            self.recorder.close()
        self.store = store
        self.recorder = store.attach_recorder(self.engine.bus)
        self._use_cache_of(store)
        self.bridge.attach(self.engine.bus)  # after the recorder again: a run is written before the GUI hears of it

    def _use_cache_of(self, store: RunsStore) -> None:
        """Runs reuse the leading steps earlier runs of the same database computed (the CLI's cache, too)."""
        from core.engine.cache import cache_root_for

        if isinstance(self.engine, ProcessEngine):
            self.engine.cache_root = cache_root_for(store.url)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self._set_paused(False)

    def pause(self) -> None:
        if self.running and not self._paused:
            self.handle.pause()
            self._set_paused(True)

    def resume(self) -> None:
        if self.handle is not None and self._paused:
            self.handle.resume()
            self._set_paused(False)

    def toggle_pause(self) -> None:
        self.resume() if self._paused else self.pause()

    def shutdown(self, timeout: float = 60.0) -> bool:
        """Cancel a run in progress and wait for its end; returns whether it stopped in time.

        A worker process this controller started is stopped too (killed if the run did not stop).
        """
        stopped = True
        if self.handle is not None and not self.handle.done:
            self.handle.cancel()
            self.handle.join(timeout)
            stopped = self.handle.done
        if self._owns_engine:
            self.engine.close(timeout=5.0)
        self.bridge.close()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        return stopped

    def _set_paused(self, paused: bool) -> None:
        if paused != self._paused:
            self._paused = paused
            self.pausedChanged.emit(paused)

    def _on_terminal(self, event) -> None:
        if self.handle is not None and event.run_id == self.handle.run_id:
            self.handle.join(5.0)  # the handle is done right after its last event was published
            self._set_paused(False)
            if isinstance(event, ev.RunFailed):
                self.warm_up()  # the worker may have died with the run: have a fresh one ready for the next
            self.runningChanged.emit(False)
