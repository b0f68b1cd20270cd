"""The Hugging Face folder format, used both for exports and for each run's own checkpoint.

Layout: ``config.json``, ``model.safetensors``, the tokenizer files, and, only
when plain ``transformers`` cannot rebuild the architecture,
``studio_model.json`` (see :mod:`core.models.manifest`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import save_file

from core.errors import ExportError
from core.models.folder import STUDIO_MANIFEST
from core.models.manifest import build_manifest, export_config, is_standard
from core.models.staging import staged_folder
from core.models.state import ModelState
from core.models.tensors import model_tensors

# module-level so tests can simulate a full disk at the moment the weights are written
_save_file = save_file


def describe(state: ModelState) -> tuple[Any, dict[str, Any], bool]:
    """The config to write, the manifest, and whether plain ``from_pretrained`` suffices."""
    model: nn.Module = state.model
    if getattr(model, "config", None) is None:
        raise ExportError("only Hugging Face models (with a .config) can be exported")
    config = export_config(model)
    manifest = build_manifest(model, config, state.quantized, state.source)
    return config, manifest, is_standard(manifest, config)


def write_model_folder(state: ModelState, folder: Path) -> dict[str, Any]:
    """Write the checkpoint files into an existing, empty ``folder``; returns the manifest (with ``standard``)."""
    config, manifest, standard = describe(state)
    config.architectures = [type(state.model).__name__]
    config.save_pretrained(folder)
    tensors = model_tensors(state.model, manifest)
    try:
        _save_file(tensors, str(folder / manifest["weights"]), metadata={"format": "pt"})
    except SafetensorError as exc:  # an I/O failure in its Rust writer; the staging folder speaks for OSErrors
        raise as_os_error(exc) from exc
    if state.tokenizer is not None:
        state.tokenizer.save_pretrained(str(folder))
    if not standard:
        (folder / STUDIO_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return {**manifest, "standard": standard}


def as_os_error(exc: Exception) -> Exception:
    """The ``OSError`` (with its errno) behind a safetensors write error, or an ``ExportError`` when it names none."""
    match = re.search(r"code: (\d+)|os error (\d+)", str(exc))
    if match is None:
        return ExportError(f"could not write the weights: {exc}")
    code = int(match.group(1) or match.group(2))
    return OSError(code, os.strerror(code))


def save_checkpoint(state: ModelState, folder: str | Path) -> Path:
    """Write the run's own checkpoint (same format as an ``hf`` export), replacing ``folder`` atomically.

    Called by the engine at the end of a run; ``export RUN`` later reloads it
    with :func:`core.models.reload.load_model_folder`. No verification here (no data
    batch at hand); every export made from it is verified.
    """
    folder = Path(folder)
    with staged_folder(folder, overwrite=True) as tmp:
        write_model_folder(state, tmp)
    return folder.resolve()
