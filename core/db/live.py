"""Which runs a recorder in this process is recording right now, and whether another process still lives.

:meth:`core.db.repository.Repository.mark_interrupted_runs` uses both to tell a
run that is still going from one whose recording process died.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter

_lock = threading.Lock()
_recording: Counter[str] = Counter()


def begin(run_id: str) -> None:
    with _lock:
        _recording[run_id] += 1


def end(run_id: str) -> None:
    with _lock:
        _recording[run_id] -= 1
        if _recording[run_id] <= 0:
            del _recording[run_id]


def is_recording(run_id: str) -> bool:
    with _lock:
        return _recording[run_id] > 0


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int, started_before: float | None = None) -> bool:
    """Whether process ``pid`` still runs (and, when known, was started by ``started_before``).

    The start-time check catches a pid reused by an unrelated process since the run began.
    When liveness cannot be determined the answer is True: a run wrongly left
    'running' is harmless, one wrongly marked interrupted is not.
    """
    if pid == os.getpid():
        return True
    try:
        import psutil
    except ImportError:
        if os.name == "nt":  # os.kill would terminate the process on Windows
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # exists, owned by someone else
            return True
        return True
    try:
        proc = psutil.Process(pid)
        if started_before is not None and proc.create_time() > started_before + 1.0:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
