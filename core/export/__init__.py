"""Checkpoint export, reload and verification.

Public API; the names below are also importable from this package itself
(``from core.export import load_export``), loaded on first use so that importing
the package stays light::

    from core.export.api import export_model, export_run      # verified exports -> ExportReport
    from core.export.checkpoint import save_checkpoint        # the run's own checkpoint (engine)
    from core.export.loader import load_export                # folder -> ModelState, no pickles, no remote code
    from core.export.verify import ExportReport

Modules: ``manifest`` (the exact architecture as JSON, and its rebuild),
``tensors`` (safetensors dictionary, int8 packing), ``staging`` (temporary
folder moved into place), ``checkpoint`` (the Hugging Face folder),
``onnx_export`` (ONNX and ONNX Runtime int8), ``verify`` (tolerances, size,
latency), ``card`` (README.md), ``api`` (the orchestration).
"""

from __future__ import annotations

import importlib

_PUBLIC = {"export_model": "api", "export_run": "api", "save_checkpoint": "checkpoint", "load_export": "loader",
           "ExportReport": "verify"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
