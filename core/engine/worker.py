"""What runs inside the worker process of :class:`~core.engine.process.ProcessEngine`.

The worker imports the libraries a run needs once, then takes jobs from a
pipe one after another and sends every event its engine publishes back
through another pipe (events are frozen, picklable dataclasses).

Signals: a Ctrl-C in the terminal reaches the whole process group, this worker
included; whether the run stops is its parent's decision (it cancels through the
run's control), so SIGINT is ignored here. SIGTERM sent to the worker itself
(``kill PID``, a system shutting down) cancels the run at its next batch, so the
run ends recorded as cancelled rather than failed by a killed worker, and the
worker then exits; an idle worker exits at once.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import threading
from dataclasses import dataclass

from core import events as ev
from core.engine.control import RunControl
from core.recipe import Recipe

# What a run needs, imported once when the worker starts (a first import takes seconds).
WORKER_MODULES = (
    "torch", "transformers", "datasets", "accelerate",
    "transformers.models.bert.modeling_bert", "transformers.core_model_loading", "transformers.data.data_collator",
    "core.engine.training", "core.engine.evaluation", "core.data.task", "core.models.loading",
    "core.methods", "core.models.checkpoint",
)
# Settings read from the environment that a run started later must see as this process sees them then.
_ENV_PREFIXES = ("BERT_STUDIO_", "HF_", "TRANSFORMERS_", "TOKENIZERS_", "CUDA_", "OMP_", "MKL_")


@dataclass(frozen=True)
class Job:
    run_id: str
    recipe: dict
    workdir_root: str
    env: dict
    cache_root: str | None = None  # the step cache beside the studio's database; None: no cache


@dataclass(frozen=True)
class Ready:
    """The worker imported its modules and waits for runs."""

    pid: int


def forwarded_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}


def preload(modules: tuple[str, ...]) -> list[str]:
    """Import ``modules`` (skipping any that fail) and freeze the collector; returns the names imported.

    After :func:`gc.freeze`, later full collections walk only what was created since, not the hundreds of
    thousands of library objects: the worker calls this before its first run, the studio at start-up.
    """
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional piece only loads later, inside a run
            continue
        done.append(name)
    gc.collect()
    gc.freeze()
    return done


def worker_main(jobs, events, control: RunControl, modules: tuple[str, ...], niceness: int = 0) -> None:
    """Entry point of the worker: import, then run each job received on ``jobs`` until it closes."""
    import faulthandler

    faulthandler.enable()  # a crash in native code leaves a Python stack on stderr
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    from core.env import configure_environment

    configure_environment()
    preload(modules)
    lock = threading.Lock()

    def forward(event) -> None:
        with lock:
            try:
                events.send(event)
            except (BrokenPipeError, EOFError, OSError):  # the studio is gone: stop working for it
                control.cancel()

    stopping = _obey_signals(control)
    events.send(Ready(os.getpid()))
    from core.engine.runner import Engine

    while not stopping.is_set():
        try:
            stopping.idle = True
            job: Job = jobs.recv()
        except (EOFError, OSError):
            return
        finally:
            stopping.idle = False
        if job is None:
            return
        os.environ.update(job.env)
        bus = ev.EventBus()
        bus.subscribe(ev.Event, forward)
        try:
            recipe = Recipe.from_dict(job.recipe)
        except Exception as exc:
            forward(ev.RunFailed(run_id=job.run_id, error=f"the worker could not read the recipe: {exc}"))
            continue
        cache = None
        if job.cache_root:
            from core.engine.cache import StepCache

            cache = StepCache(job.cache_root)
        Engine(bus, job.workdir_root, cache=cache).run(recipe, run_id=job.run_id, control=control)
        del bus, recipe
        gc.collect()


class _Stopping(threading.Event):
    idle = False  # waiting for a job: a SIGTERM then ends the worker at once


def _obey_signals(control: RunControl) -> _Stopping:
    """SIGINT ignored (the parent decides), SIGTERM cancels the run and ends the worker after it (module doc)."""
    stopping = _Stopping()

    def on_sigterm(_signum, _frame) -> None:
        stopping.set()
        if stopping.idle:
            raise SystemExit(0)
        control.cancel()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, on_sigterm)
    return stopping
