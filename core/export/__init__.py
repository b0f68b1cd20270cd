"""Export formats on top of the model folder: verified ``hf``, ``onnx``, ``onnx-int8`` and ``onnx-int4`` exports.

The model folder itself (the run's own checkpoint, the ``hf`` format) is read
and written by :mod:`core.models` (``checkpoint``, ``reload``, ``manifest``,
``tensors``, ``staging``); this package adds the formats, their verification
and the model card, and never the other way round. Every format carries the
task head's outputs (:mod:`core.models.heads`: ``logits``, or ``start_logits``
and ``end_logits``), and verification compares them as the task predicts.

Public API; the names below are also importable from this package itself
(``from core.export import load_export``), loaded on first use so that importing
the package stays light::

    from core.export.api import export_model, export_run      # verified exports -> ExportReport
    from core.models.checkpoint import save_checkpoint        # the run's own checkpoint (engine)
    from core.models.reload import load_model_folder          # folder -> ModelState (``load_export`` here)
    from core.export.verify import ExportReport

Modules, each importing only those listed before it: ``verify`` (tolerances,
size, latency), ``card`` (README.md), ``onnx_session`` (running a graph, quiet
exporters), ``onnx_graph`` (the float graph), ``onnx_fusion`` (ONNX Runtime's
BERT fusion, checked), ``onnx_int8`` and ``onnx_int4`` (the quantized graphs),
``onnx_export`` (an ONNX folder in one of the three formats), ``api`` (the
orchestration).
"""

from __future__ import annotations

import importlib

# public name -> (module, name there)
_PUBLIC = {"export_model": ("core.export.api", "export_model"), "export_run": ("core.export.api", "export_run"),
           "save_checkpoint": ("core.models.checkpoint", "save_checkpoint"),
           "load_export": ("core.models.reload", "load_model_folder"),
           "ExportReport": ("core.export.verify", "ExportReport")}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
