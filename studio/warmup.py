"""Load the heavy libraries in the studio's own process, then freeze the garbage collector's view.

Runs execute in a worker process (:class:`~core.engine.process.ProcessEngine`,
which imports the same libraries there), but the studio itself still uses
torch and transformers: describing a model, the data panel, CUDA detection.
Importing them once at start-up in the background, then calling
:func:`gc.freeze`, moves every object that exists by then out of the
collector's reach, so later full collections in this process (the GUI thread
runs them too) only walk what was created since, instead of hundreds of
thousands of library objects (``bench/gui_stall.py`` measured 0.2-0.36 s
stalls before).
"""

from __future__ import annotations

from core.engine.worker import WORKER_MODULES, preload

MODULES = WORKER_MODULES + ("core.db",)


def warm_up(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules`` (skipping any that fail) and freeze the collector; returns the names imported."""
    return preload(modules)
