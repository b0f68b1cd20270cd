"""Follow ``bert-studio study worker`` processes from the process that started them (the studio's Study view).

Why processes: a study worker in a thread of the studio's process held the interpreter lock for up to a
third of a second at a time (331 ms event-loop stalls measured in the Study view, issue 26), and N workers
there shared one lock. Each worker is now ``python -m core.cli study worker ID --db URL`` in its own
process group and is followed as the studio follows a multi-process run (:mod:`core.engine.local_launch`):

- Events: the worker writes every event (its study events and its trials' run events) as a JSON line
  (:mod:`core.engine.event_stream`); :meth:`WorkerProcess.poll` returns the lines added since the last call.
  The worker records its runs into the database itself: nothing here records.
- Stop: a control file says ``cancel`` (the worker cancels its trial and marks the study cancelled); a
  worker still going :data:`CANCEL_GRACE` seconds later gets SIGINT on its group, then SIGKILL.
- Crash: a worker that ends without its :class:`~core.events.StudyEnded` (killed, out of memory, an
  exception) gets its running trials marked interrupted at once (:func:`core.study.studies.interrupt_worker`),
  and a :class:`~core.events.StudyWorkerFailed` naming its exit code and the end of its output.
- The step cache: every worker is given the same cache folder and database, so the teacher and shared
  prefixes are computed once for the whole study.

Qt-free: the caller polls (the studio from a ``QTimer`` on its GUI thread, so no thread of the caller's
process decodes events while the window draws).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import events as ev
from core.engine.event_stream import EventReader
from core.engine.process import describe_exit
from core.study.studies import interrupt_worker

log = logging.getLogger(__name__)

CANCEL_GRACE = 20.0  # seconds a stopped worker has to leave by itself before its process group gets SIGINT
EXIT_GRACE = 30.0  # seconds a worker that left the study has to exit (it prints the study's report) before SIGKILL
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding ``core``: the child imports the same code


def worker_command(db_url: str, study_id: str, folder: Path, *, resume: bool = False, workdir_root=None,
                   cache_root=None, niceness: int = 0, heartbeat_s: float = 10.0, grace_s: float = 120.0) -> list[str]:
    """The command line of one study worker (this interpreter: no PATH needed)."""
    command = [sys.executable, "-m", "core.cli", "study", "worker", study_id, "--db", db_url, "--quiet",
               "--events", str(folder / "events.jsonl"), "--control", str(folder / "control"),
               "--heartbeat", str(heartbeat_s), "--grace", str(grace_s)]
    if resume:
        command.append("--resume")
    if workdir_root is not None:
        command += ["--workdir", str(workdir_root)]
    if cache_root is not None:
        command += ["--cache", str(cache_root)]
    if niceness:
        command += ["--nice", str(niceness)]
    return command


class WorkerProcess:
    """One study worker in a process of its own: start it, poll its events, stop it; its crash is reported."""

    def __init__(self, db_url: str, study_id: str, folder: str | Path, *, resume: bool = False, workdir_root=None,
                 cache_root=None, niceness: int = 0, heartbeat_s: float = 10.0, grace_s: float = 120.0,
                 threads: int | None = None, popen=subprocess.Popen):
        self.db_url, self.study_id = db_url, study_id
        self.folder = Path(folder)
        self.command = worker_command(db_url, study_id, self.folder, resume=resume, workdir_root=workdir_root,
                                      cache_root=cache_root, niceness=niceness, heartbeat_s=heartbeat_s,
                                      grace_s=grace_s)
        self.threads = threads  # torch threads of the worker (None: its own default)
        self.popen = popen
        self.process: subprocess.Popen | None = None
        self.worker: str | None = None  # its name in the database ("host:pid:tag"), from its StudyStarted
        self.left: ev.StudyEnded | None = None  # it left the study (the process then prints the report and exits)
        self.ended: ev.StudyEnded | ev.StudyWorkerFailed | None = None  # how it ended, once its process exited
        self._left_at: float | None = None
        self._reader = EventReader(self.folder / "events.jsonl")
        self._stopped_at: float | None = None
        self._signalled = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> "WorkerProcess":
        self.folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)  # BERT_STUDIO_HOME, the database and the caches as this process sees them
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        if self.threads:
            env.setdefault("OMP_NUM_THREADS", str(self.threads))
        with (self.folder / "output.log").open("wb") as output:  # the child keeps its own descriptor
            self.process = self.popen(self.command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True)  # its own group: signals reach its children
        return self

    def poll(self) -> list[ev.BaseEvent]:
        """The events the worker wrote since the last call; once its process exited, :attr:`ended` says how.

        A process that exits without having left the study (its :class:`~core.events.StudyEnded`) crashed:
        its running trials are marked interrupted and their ``TrialFinished`` and a ``StudyWorkerFailed`` follow.
        """
        if self.ended is not None or self.process is None:
            return []
        code = self.process.poll()
        events = self._read()  # after it exited: what it wrote last still counts
        for event in events:
            if isinstance(event, ev.StudyStarted) and self.worker is None:
                self.worker = event.worker
            elif isinstance(event, ev.StudyEnded) and event.worker == self.worker:
                self.left, self._left_at = event, time.monotonic()
        if code is None:
            self._escalate()
        elif self.left is not None:
            self.ended = self.left
        else:
            events += self._crashed(code)
        return events

    def stop(self) -> None:
        """Stop the whole study through this worker: its current trial is cancelled; Resume runs it again."""
        if self.ended is not None or self.process is None or self._stopped_at is not None:
            return
        self._stopped_at = time.monotonic()
        tmp = self.folder / "control.tmp"
        tmp.write_text("cancel")
        os.replace(tmp, self.folder / "control")  # the worker never reads half a word

    def kill(self) -> None:
        """End the worker now (its running trial is then reported interrupted by the next :meth:`poll`)."""
        self._signal(signal.SIGKILL)

    def wait(self, timeout: float, every: float = 0.1) -> list[ev.BaseEvent]:
        """Poll until the worker ended or ``timeout`` passed; returns every event seen meanwhile."""
        events: list[ev.BaseEvent] = []
        deadline = time.monotonic() + timeout
        while self.ended is None:
            events += self.poll()
            if self.ended is not None or time.monotonic() >= deadline:
                break
            time.sleep(every)
        return events

    # -- inside ---------------------------------------------------------------------------------------------
    def _read(self) -> list[ev.BaseEvent]:
        try:
            return self._reader.read()
        except ValueError:  # a line that does not decode: the worker's own problem, said in its log
            log.exception("study worker %s wrote an unreadable event", self.pid)
            return []

    def _escalate(self) -> None:
        if self._left_at is not None:
            if time.monotonic() - self._left_at > EXIT_GRACE and self._signalled < 2:
                self._signal(signal.SIGKILL)  # it left the study in order: nothing of it is lost
                self._signalled = 2
            return
        if self._stopped_at is None:
            return
        late = time.monotonic() - self._stopped_at
        if self._signalled == 0 and late > CANCEL_GRACE:
            self._signal(signal.SIGINT)  # the worker's Ctrl-C: it cancels its trial and leaves
        elif self._signalled == 1 and late > 2 * CANCEL_GRACE:
            self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signalled += 1
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _crashed(self, code: int) -> list[ev.BaseEvent]:
        how = describe_exit(code)
        events: list[ev.BaseEvent] = []
        if self.worker is not None:
            try:
                events += interrupt_worker(self.db_url, self.study_id, self.worker, how)
            except Exception:  # the database is unreachable: the other workers reap the trial after their grace
                log.exception("could not mark the trials of study worker %s interrupted", self.worker)
        trials = ", ".join(str(e.number + 1) for e in events)
        failed = ev.StudyWorkerFailed(
            self.study_id, worker=self.worker or f"pid {self.pid}",
            error=f"a study worker process ended unexpectedly ({how})"
                  + (f"; its trial {trials} is marked interrupted (Resume runs it again)" if trials else ""),
            details=_tail(self.folder / "output.log"))
        self.ended = failed
        return events + [failed]


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", "replace")
    except OSError:
        return ""
