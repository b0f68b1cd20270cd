"""Run one recipe as N local processes under ``torchrun`` and follow it through the engine's events.

The studio's multi-process runs: :class:`LocalLaunchEngine` has the surface of
:class:`~core.engine.process.ProcessEngine` the studio uses (``bus``, ``start``). It starts
``python -m torch.distributed.run --nproc_per_node N -m core.cli run RECIPE --db URL`` in its own
process group; rank 0 records the run into the database itself and writes every event as a JSON
line (:mod:`core.engine.event_stream`), which a thread here reads and publishes on :attr:`bus`.
So nothing here records: subscribe the bridge to this bus, not a database recorder.

- Pause and resume: a control file rank 0 polls; its pause reaches the other ranks through the
  per-step flag exchange (:func:`core.engine.distributed.sync_check`).
- Cancel: the same file says ``cancel`` (the run stops at its next batch, on every rank); a run
  still going after :data:`CANCEL_GRACE` seconds gets SIGINT on its process group, then SIGKILL.
- A launch that ends without the run's terminal event yields a :class:`~core.events.RunFailed`
  with the exit code and the end of the processes' output.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from core import events as ev
from core.engine.event_stream import EventReader
from core.engine.process import EventRunHandle, describe_exit
from core.engine.runner import new_run_id
from core.recipe import Recipe

CANCEL_GRACE = 20.0  # seconds a cancelled run has to stop by itself before its processes get SIGINT
POLL = 0.1  # seconds between reads of the event file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(recipe_path: str | Path, db_url: str, processes: int, folder: Path, run_id: str,
                   port: int | None = None) -> list[str]:
    """The command line of a local launch (this interpreter: no PATH needed)."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(processes),
            "--master_addr", "127.0.0.1", "--master_port", str(port or free_port()),
            "-m", "core.cli", "run", str(recipe_path), "--db", db_url, "--quiet",
            "--events", str(folder / "events.jsonl"), "--control", str(folder / "control"), "--run-id", run_id]


class LaunchHandle(EventRunHandle):
    """A launched run: cancel, pause, resume, wait; ``result`` once its terminal event was published."""

    def __init__(self, run_id: str, folder: Path, workdir: Path):
        super().__init__(run_id, workdir)
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self._cancelled = threading.Event()

    def _say(self, word: str) -> None:
        (self.folder / "control.tmp").write_text(word)
        os.replace(self.folder / "control.tmp", self.folder / "control")  # rank 0 never reads half a word

    def pause(self) -> None:
        if not self.done:
            self._say("pause")

    def resume(self) -> None:
        if not self.done:
            self._say("run")

    def cancel(self) -> None:
        if self.done or self._cancelled.is_set():
            return
        self._cancelled.set()
        self._say("cancel")
        threading.Thread(target=self._escalate, name="launch-cancel", daemon=True).start()

    def _escalate(self) -> None:
        for signum in (signal.SIGINT, signal.SIGKILL):
            if self._done.wait(CANCEL_GRACE) or self.process is None or self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                return


class LocalLaunchEngine:
    """Starts recipes as ``processes`` local processes recording into ``db_url``; publishes their events on ``bus``."""

    def __init__(self, db_url: str, processes: int = 2, bus: ev.EventBus | None = None,
                 workdir_root: str | Path | None = None, popen=subprocess.Popen):
        from core.env import studio_home

        self.db_url = db_url
        self.processes = processes
        self.bus = bus or ev.EventBus()
        self.workdir_root = Path(workdir_root) if workdir_root else studio_home() / "runs"
        self.popen = popen  # tests replace the launcher

    def start(self, recipe: Recipe, run_id: str | None = None) -> LaunchHandle:
        run_id = run_id or new_run_id()
        workdir = self.workdir_root / run_id
        folder = workdir / "launch"
        folder.mkdir(parents=True, exist_ok=True)
        recipe_path = recipe.save(folder / "recipe.json")
        handle = LaunchHandle(run_id, folder, workdir)
        env = dict(os.environ)  # BERT_STUDIO_HOME and the caches as the studio sees them
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // self.processes)))
        output = (folder / "output.log").open("wb")
        try:
            handle.process = self.popen(launch_command(recipe_path, self.db_url, self.processes, folder, run_id),
                                        stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                        start_new_session=True)  # its own group: signals reach every process
        finally:
            output.close()
        threading.Thread(target=self._follow, args=(handle,), name=f"launch-{run_id[:8]}", daemon=True).start()
        return handle

    def _follow(self, handle: LaunchHandle) -> None:
        reader = EventReader(handle.folder / "events.jsonl")
        while True:
            ended = handle.process.poll() is not None
            for event in reader.read():  # after the process ended: what it wrote last still counts
                self.bus.publish(event)
                if isinstance(event, ev.TERMINAL_EVENTS) and event.run_id == handle.run_id:
                    handle.process.wait()
                    handle._finish(event)
                    return
            if ended:
                break
            handle._done.wait(POLL)
        how = describe_exit(handle.process.returncode)
        tail = _tail(handle.folder / "output.log")
        event = ev.RunFailed(run_id=handle.run_id, error=f"the run's {self.processes} processes ended without "
                             f"finishing the run ({how})", details=tail)
        self.bus.publish(event)
        handle._finish(event)

    def close(self, timeout: float = 10.0) -> None:
        """Nothing stays running between runs."""


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", "replace")
    except OSError:
        return ""
