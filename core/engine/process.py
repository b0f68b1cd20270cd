"""Run recipes in a worker process, so the caller's process never shares a GIL with the run.

Why: in a thread of the studio's process, a run holds the GIL for up to a
quarter of a second at a time (full garbage collections over the run's
objects, parts of data preparation), and the window freezes meanwhile.
:class:`ProcessEngine` has the surface of :class:`~core.engine.runner.Engine`
the studio uses (``bus``, ``start``) but runs each recipe in one long-lived
worker process (``spawn`` start method): the worker imports torch and
transformers once, then takes runs one after another.

- Events: the worker subscribes to its engine's bus and sends every event
  (frozen, picklable dataclasses) through a pipe; a listener thread here
  republishes them on :attr:`ProcessEngine.bus`, so subscribers (the database
  recorder, the studio's bridge) work as with the in-thread engine and the
  database is written by this process.
- Control: pause and cancel are a :class:`RunControl` made of
  ``multiprocessing`` events, handed to the worker when it starts and reset
  before each run.
- Crashes: a worker that ends without the run's terminal event (killed,
  segfault, out of memory) yields a :class:`~core.events.RunFailed` naming its
  exit code; the next run starts a fresh worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from core import events as ev
from core.engine.control import RunControl
from core.engine.runner import RunResult, new_run_id
from core.engine.worker import WORKER_MODULES, Job, Ready, forwarded_env, worker_main
from core.recipe import Recipe

log = logging.getLogger(__name__)


def describe_exit(code: int | None) -> str:
    """``exit code 3`` or ``killed by signal SIGKILL``, for the run's error message."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return f"killed by signal {name}{hint}"
    return f"exit code {code}"


class EventRunHandle:
    """A run followed through its events, elsewhere than this thread: wait for it; ``result`` once it ended.

    ``result`` is set by :meth:`_finish` when the run's terminal event arrived here (after every
    subscriber of the bus saw it); its ``state`` is None, the model lives in the other process.
    """

    def __init__(self, run_id: str, workdir: Path):
        self.run_id = run_id
        self.workdir = workdir
        self.result: RunResult | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def is_alive(self) -> bool:
        return not self.done

    def join(self, timeout: float | None = None) -> RunResult | None:
        self._done.wait(timeout)
        return self.result

    def _finish(self, event: ev.Event) -> None:
        result = RunResult(self.run_id, "failed", workdir=self.workdir)
        if isinstance(event, ev.RunFinished):
            result.status, result.results = "finished", dict(event.results)
        elif isinstance(event, ev.RunCancelled):
            result.status = "cancelled"
        else:
            result.error = getattr(event, "error", "")
        self.result = result
        self._done.set()


class ProcessRunHandle(EventRunHandle):
    """A run in the worker process: cancel, pause, resume, wait (see :class:`EventRunHandle`)."""

    def __init__(self, run_id: str, control: RunControl, workdir: Path):
        super().__init__(run_id, workdir)
        self.control = control

    def cancel(self) -> None:
        if not self.done:  # the control is the worker's: it must not reach the next run
            self.control.cancel()

    def pause(self) -> None:
        if not self.done:
            self.control.pause()

    def resume(self) -> None:
        if not self.done:
            self.control.resume()


class _Worker:
    """One worker process, its two pipes and the thread that listens to it."""

    def __init__(self, mp, publish, modules: tuple[str, ...], niceness: int, on_exit):
        self.publish = publish
        self.control = RunControl(mp)
        self.ready = threading.Event()
        self.current: ProcessRunHandle | None = None
        self.ended = False  # the listener saw the process end; no run may be handed to it
        self._lock = threading.Lock()
        self._on_exit = on_exit
        jobs_out, self._jobs = mp.Pipe(duplex=False)
        self._events, events_in = mp.Pipe(duplex=False)
        self.process = mp.Process(target=worker_main, args=(jobs_out, events_in, self.control, modules, niceness),
                                  name="bert-studio-worker", daemon=True)
        self.process.start()
        jobs_out.close()  # only the worker holds these ends now: it sees EOF when this process dies
        events_in.close()
        self.listener = threading.Thread(target=self._listen, name="run-worker-listener", daemon=True)
        self.listener.start()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self.current is not None

    def submit(self, handle: ProcessRunHandle, job: Job) -> bool:
        """Hand ``job`` over; False if the worker ended meanwhile (the caller starts another)."""
        with self._lock:
            if self.ended:
                return False
            if self.current is not None:
                raise RuntimeError("the worker is busy with another run")
            self.control.reset()
            self.current = handle
        try:
            self._jobs.send(job)
        except OSError:  # it is dying: its listener fails the run with the exit code
            pass
        return True

    def close(self, timeout: float) -> None:
        try:
            self._jobs.send(None)
        except OSError:
            pass
        if not self.ready.is_set():  # still importing: nothing to lose, no reason to wait for it
            self.process.terminate()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.listener.join(timeout)

    def _listen(self) -> None:
        reader, sentinel = self._events, self.process.sentinel
        while True:
            ready = wait_for([reader, sentinel])
            if reader in ready:
                try:
                    message = reader.recv()
                except (EOFError, OSError):  # the worker closed its end: it is ending
                    self.process.join(5)
                    break
                except Exception:  # a message that does not unpickle: report it, keep listening
                    log.exception("unreadable message from the run worker")
                    continue
                self._deliver(message)
            elif sentinel in ready:
                while reader.poll():  # what it sent before it ended still counts
                    try:
                        self._deliver(reader.recv())
                    except Exception:
                        break
                break
        self._worker_ended()

    def _deliver(self, message) -> None:
        if isinstance(message, Ready):
            self.ready.set()
            return
        self.publish(message)
        if isinstance(message, ev.TERMINAL_EVENTS):
            with self._lock:
                handle = self.current
                if handle is None or handle.run_id != message.run_id:
                    return
                self.current = None
            handle._finish(message)

    def _worker_ended(self) -> None:
        self.process.join(5)
        with self._lock:
            handle, self.current, self.ended = self.current, None, True
        self._on_exit(self)
        if handle is None:
            return
        how = describe_exit(self.process.exitcode)
        event = ev.RunFailed(run_id=handle.run_id, error=f"the run's worker process ended unexpectedly ({how})",
                             details=f"Worker process {self.process.pid} ended before the run did ({how}). "
                                     "The figures recorded until then are kept; the next run starts a fresh worker.")
        self.publish(event)
        handle._finish(event)


class ProcessEngine:
    """Runs recipes in a warm worker process and publishes their events on ``bus``.

    The worker starts on :meth:`warm_up` (or the first :meth:`start`), serves
    one run at a time; after it died, the next :meth:`warm_up` or :meth:`start`
    starts a fresh one. :meth:`close` stops it.
    """

    def __init__(self, bus: ev.EventBus | None = None, workdir_root: str | Path | None = None,
                 modules: tuple[str, ...] = WORKER_MODULES, niceness: int = 0):
        from core.env import studio_home

        self.bus = bus or ev.EventBus()
        self.workdir_root = Path(workdir_root) if workdir_root else studio_home() / "runs"
        self.modules = modules
        self.cache_root: Path | None = None  # the step cache the worker's runs reuse prefixes from (None: none)
        self.niceness = niceness  # added to the worker's (POSIX) nice value: the caller's threads win a busy CPU
        self._mp = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self.workers_started = 0

    def warm_up(self) -> None:
        """Start the worker now if none runs, so the first run does not wait for its imports."""
        self._ensure_worker()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Start the worker if needed and wait until it has imported its modules."""
        return self._ensure_worker().ready.wait(timeout)

    @property
    def worker_pid(self) -> int | None:
        worker = self._worker
        return worker.process.pid if worker is not None and worker.alive else None

    def start(self, recipe: Recipe, run_id: str | None = None, **kwargs) -> ProcessRunHandle:
        """Send ``recipe`` to the worker; returns at once. One run at a time."""
        if kwargs:
            raise TypeError(f"a run in a worker process cannot take {sorted(kwargs)} (objects of this process)")
        run_id = run_id or new_run_id()
        job = Job(run_id, recipe.to_dict(), str(self.workdir_root), forwarded_env(),
                  str(self.cache_root) if self.cache_root else None)
        while True:
            worker = self._ensure_worker()
            handle = ProcessRunHandle(run_id, worker.control, self.workdir_root / run_id)
            if worker.submit(handle, job):
                return handle

    def run(self, recipe: Recipe, run_id: str | None = None, timeout: float | None = None) -> RunResult | None:
        """Run ``recipe`` in the worker and wait for its end (``None`` if ``timeout`` passed first)."""
        return self.start(recipe, run_id).join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker (a run in progress is killed after ``timeout`` seconds)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close(timeout)

    def _ensure_worker(self) -> _Worker:
        with self._lock:
            if self._worker is None or self._worker.ended or not self._worker.alive:
                self._worker = _Worker(self._mp, self._publish, self.modules, self.niceness, self._worker_exited)
                self.workers_started += 1
            return self._worker

    def _publish(self, event: ev.Event) -> None:
        self.bus.publish(event)  # looked up each time: ``bus`` may be replaced between runs

    def _worker_exited(self, worker: _Worker) -> None:
        with self._lock:
            if self._worker is worker:
                self._worker = None
