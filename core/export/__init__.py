"""Checkpoint export, reload and verification.

Public API (import from the submodules; this package imports nothing heavy)::

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
