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
from core.models.student_families import student_family
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
    if student_family(state.model):  # a BiLSTM / CNN student: its own manifest instead of config.json
        from core.models.students.folder import student_manifest, student_tensors, write_student_manifest

        manifest, standard = student_manifest(state.model, state.quantized, state.source), False
        write_student_manifest(folder, manifest)
        tensors = student_tensors(state.model, manifest)
    else:
        config, manifest, standard = describe(state)
        config.save_pretrained(folder)
        tensors = model_tensors(state.model, manifest)
    try:
        _save_file(tensors, str(folder / manifest["weights"]), metadata={"format": "pt"})
    except SafetensorError as exc:  # an I/O failure in its Rust writer; the staging folder speaks for OSErrors
        raise as_os_error(exc) from exc
    if state.tokenizer is not None:
        write_tokenizer(state.tokenizer, folder, state.source)
    if not standard and not student_family(state.model):
        (folder / STUDIO_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return {**manifest, "standard": standard}


# Tokenizer classes transformers 5 names in tokenizer_config.json that the 4.x line has no class for
# (a ModernBERT folder's tokenizer loads as TokenizersBackend whatever class its folder named).
V5_ONLY_TOKENIZERS = frozenset({"TokenizersBackend", "SentencePieceBackend", "PythonBackend", "MistralCommonBackend"})
# The class both lines build from tokenizer.json alone (in 5.x another name of TokenizersBackend).
PORTABLE_TOKENIZER = "PreTrainedTokenizerFast"


def write_tokenizer(tokenizer: Any, folder: Path, source: str = "") -> None:
    """Save ``tokenizer`` into ``folder`` so that transformers 4.x loads it as well as 5.x.

    Where transformers 5 writes a class name of its own (``TokenizersBackend``), the config gets the class
    the tokenizer's source folder named (``BertTokenizer``), or else ``PreTrainedTokenizerFast``. The
    tokenizer's ``model_input_names`` are written too: 5.x gives a ModernBERT folder's tokenizer no token type
    ids, and 4.x, building a ``BertTokenizerFast`` from the class name alone, would hand them to a model that
    takes none.
    """
    tokenizer.save_pretrained(str(folder))
    file = Path(folder) / "tokenizer_config.json"
    if not file.is_file():
        return
    config = json.loads(file.read_text(encoding="utf-8"))
    before = dict(config)
    if config.get("tokenizer_class") in V5_ONLY_TOKENIZERS:
        origins = (getattr(tokenizer, "name_or_path", ""), source)
        config["tokenizer_class"] = next(filter(None, map(_concrete_class, origins)), PORTABLE_TOKENIZER)
    names = getattr(tokenizer, "model_input_names", None)
    if names:
        config["model_input_names"] = list(names)
    if config == before:
        return
    file.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _concrete_class(origin: str) -> str | None:
    """The tokenizer class a source folder's ``tokenizer_config.json`` names, when it names one 4.x has."""
    try:
        file = Path(str(origin)).expanduser() / "tokenizer_config.json"
        named = json.loads(file.read_text(encoding="utf-8")).get("tokenizer_class") if file.is_file() else None
    except (OSError, ValueError, AttributeError):  # not a folder, unreadable, or not a JSON object
        return None
    return named if isinstance(named, str) and named and named not in V5_ONLY_TOKENIZERS else None


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
