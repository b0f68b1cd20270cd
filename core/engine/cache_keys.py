"""What decides a cached prefix's result, hashed into its key (:meth:`core.engine.cache.StepCache.prefix_keys`).

The model's and the data's files (name, size, modification time), the data
settings, the seed, the device type, the torch and transformers versions, the
version of the engine code that runs every step (:func:`engine_version`) and,
for each step, its method, the method's code version and its full settings.
A method's code version is derived from its source (:mod:`core.code_version`),
so a changed method is a miss without anyone bumping a number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from core.code_version import code_version

CACHE_FORMAT = 1  # bump when what an entry holds changes; a change of code changes the keys by itself
ENGINE_MODULE = "core.engine.runner"  # the loop that applies every step: its code (and what it imports) is in each key


def _files_fingerprint(path: Path, limit: int = 10_000) -> list:
    """Name, size and modification time of a file, or of every file in a folder (a changed file is a new key)."""
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    out = []
    for i, file in enumerate(sorted(p for p in path.rglob("*") if p.is_file())):
        if i >= limit:
            break
        st = file.stat()
        out.append([str(file.relative_to(path)), st.st_size, st.st_mtime_ns])
    return out


def model_fingerprint(source: str) -> dict[str, Any]:
    from core.models.loading import DEFAULT_SOURCE, TINY_SOURCE, resolve_source

    if source == TINY_SOURCE:
        return {"source": source}
    try:
        path = Path(resolve_source(source)).expanduser()
    except Exception:  # the default model not installed: the run fails on its own, with its own message
        return {"source": source}
    if path.exists():
        return {"source": source if source == DEFAULT_SOURCE else str(path.resolve()), "files": _files_fingerprint(path)}
    return {"source": source}  # a hub name (online only)


def data_fingerprint(source: str) -> dict[str, Any]:
    from core.data.sources import DEFAULT_SOURCE

    if source == DEFAULT_SOURCE:
        try:
            from core.data.default import default_data_path

            return {"source": source, "files": _files_fingerprint(default_data_path())}
        except Exception:
            return {"source": source}
    path = Path(source).expanduser()
    if path.exists():
        return {"source": str(path.resolve()), "files": _files_fingerprint(path)}
    return {"source": source}


def step_identity(step) -> dict[str, Any]:
    """Method, its version and its full effective settings (defaults filled in)."""
    spec = step.spec()
    return {"method": step.method, "version": spec.version, "settings": dataclasses.asdict(step.config())}


def engine_version() -> str:
    """The code version of the engine's step loop (model loading and data preparation included)."""
    return code_version(ENGINE_MODULE)


def _libraries() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
