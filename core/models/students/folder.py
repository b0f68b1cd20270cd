"""A student's folder: ``studio_student.json`` (its configuration and what steps changed in it),
``model.safetensors`` and the teacher's tokenizer files. No ``config.json``: no transformers class builds
these models, so the studio's own loader (:func:`core.models.reload.load_model_folder`) reads the folder.

Modules a later step replaced (dynamic int8 linears, k-bit embeddings) are recorded as the transformer
folders record them (:func:`core.models.manifest.describe_modules` against the plain student the
configuration builds), and their tensors stored the same way (:mod:`core.models.tensors`); a dynamically
quantized LSTM as its int8 codes and scales (:mod:`core.models.quantized_lstm`): no pickles.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from core.models.folder import ModelFolderError, has_vocabulary, read_json_object
from core.models.manifest import WEIGHTS_FILE, build_entry, describe_modules, dynamic_linear_type, set_module
from core.models.quantized_lstm import KIND as LSTM_KIND
from core.models.quantized_lstm import build_lstm, is_quantized_lstm, lstm_entry, lstm_tensors
from core.models.state import ModelState
from core.models.student_families import STUDENT_FILE, student_family
from core.models.students import build_student, config_from_dict

STUDENT_FORMAT = "bert-studio-student"
STUDENT_VERSION = 1


def student_manifest(model: nn.Module, quantized: bool, source: str) -> dict[str, Any]:
    """What the folder records: the configuration and the modules that differ from the plain student's."""
    config = model.config.to_dict()
    config["architectures"] = [type(model).__name__]
    with torch.device("meta"):
        skeleton = build_student(model.config)
    lstms = _quantized_lstms(model)
    modules = [e for e in describe_modules(_without(model, lstms), skeleton) if e["path"] not in lstms]
    return {
        "format": STUDENT_FORMAT,
        "version": STUDENT_VERSION,
        "model_type": student_family(model),
        "weights": WEIGHTS_FILE,
        "quantized": bool(quantized or lstms or any(isinstance(m, dynamic_linear_type()) for m in model.modules())),
        "source": source,
        "config": config,
        "modules": modules + [lstm_entry(path, module) for path, module in lstms.items()],
        "shared": [],
        "shared_modules": [],
        "standard": False,  # plain transformers cannot load it
    }


def _quantized_lstms(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_children() if is_quantized_lstm(m)}


def _without(model: nn.Module, paths) -> nn.Module:
    """A shallow view of ``model`` with an ``nn.Identity`` at each of ``paths`` (top-level children)."""
    view = copy.copy(model)
    view._modules = {**model._modules, **{path: nn.Identity() for path in paths}}
    return view


def _others(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without its quantized LSTM entries (what the transformer machinery reads)."""
    return {**manifest, "modules": [e for e in manifest["modules"] if e.get("kind") != LSTM_KIND]}


def student_tensors(model: nn.Module, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of a student's folder: as :func:`core.models.tensors.model_tensors` stores any model's, and
    a quantized LSTM's int8 codes, scales and biases (:mod:`core.models.quantized_lstm`)."""
    from core.models.tensors import model_tensors

    lstms = [e["path"] for e in manifest["modules"] if e.get("kind") == LSTM_KIND]
    out = model_tensors(_without(model, lstms), _others(manifest))
    for path in lstms:
        out.update(lstm_tensors(path, model.get_submodule(path)))
    return out


def write_student_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """The folder's ``studio_student.json`` (:func:`core.models.checkpoint.write_model_folder` writes the rest)."""
    (folder / STUDENT_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_student_manifest(path: Path) -> dict[str, Any]:
    manifest = read_json_object(path / STUDENT_FILE)
    if manifest.get("format") != STUDENT_FORMAT:
        raise ModelFolderError(f"{path / STUDENT_FILE} is not a studio student manifest")
    if int(manifest.get("version", 0)) > STUDENT_VERSION:
        raise ModelFolderError(f"{path} was written by a newer studio (student version {manifest['version']})")
    if manifest.get("weights") != WEIGHTS_FILE:
        raise ModelFolderError(f"{path / STUDENT_FILE} names the weights {manifest.get('weights')!r}; only "
                               f"{WEIGHTS_FILE} inside the folder is read")
    if not isinstance(manifest.get("config"), dict) or not isinstance(manifest.get("modules", []), list):
        raise ModelFolderError(f"{path / STUDENT_FILE}: 'config' must be an object and 'modules' a list")
    return manifest


def load_student_folder(path: Path) -> ModelState:
    """Rebuild a student from its folder: the configuration's plain model, the recorded modules, the weights."""
    from safetensors.torch import load_file

    from core.models.tensors import load_tensors

    manifest = read_student_manifest(path)
    try:
        config = config_from_dict(manifest["config"])
    except (TypeError, ValueError) as exc:
        raise ModelFolderError(f"{path / STUDENT_FILE}: {exc}") from None
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFolderError(f"{path} lacks its weights file {WEIGHTS_FILE}")
    model = build_student(config)
    tensors = load_file(str(weights))
    lstms = {str(e["path"]): build_lstm(e, tensors) for e in manifest["modules"] if e.get("kind") == LSTM_KIND}
    for entry in manifest["modules"]:
        if entry.get("kind") == LSTM_KIND:
            set_module(model, str(entry["path"]), nn.Identity())  # placed once the other tensors are in
        elif entry.get("kind") != "dynamic_int8":  # filled from the weights by load_tensors
            set_module(model, str(entry["path"]), build_entry(entry))
    load_tensors(model, _others(manifest), tensors)
    for where, module in lstms.items():
        set_module(model, where, module)
    model.eval()
    tokenizer = None
    if has_vocabulary(path):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    return ModelState(model=model, tokenizer=tokenizer, source=str(path), quantized=bool(manifest.get("quantized")))
