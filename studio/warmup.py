"""Load the heavy libraries a run needs before the first run, then freeze the garbage collector's view.

Why: the engine runs in a thread of the studio's process. Importing
transformers, datasets and accelerate for the first time, and full garbage
collections over the hundreds of thousands of objects they create, hold the
GIL for tenths of a second at a time; done inside the first run they freeze
the window (``bench/gui_stall.py`` measured gaps up to 0.36 s). Importing them
once at start-up and then calling :func:`gc.freeze` moves every object that
exists by then out of the collector's reach, so later collections (accelerate
calls ``gc.collect()`` after each training) only walk what the run created.
"""

from __future__ import annotations

import gc
import importlib

MODULES = (
    "torch", "transformers", "datasets", "accelerate",
    "transformers.models.bert.modeling_bert", "transformers.core_model_loading", "transformers.data.data_collator",
    "core.engine.training", "core.engine.evaluation", "core.data.task", "core.models.loading",
    "core.methods", "core.export.checkpoint", "core.db",
)


def warm_up(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules`` (skipping any that fail) and freeze the collector; returns the names imported."""
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional piece only means it loads later, inside a run
            continue
        done.append(name)
    gc.collect()
    gc.freeze()
    return done
