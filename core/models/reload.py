"""Rebuild an exported (or checkpointed) model from its folder, without executing anything from it.

Only ``.safetensors`` weights are read, the architecture comes from the
``transformers`` class the config names (never remote code) plus the
manifest's entries, and custom modules are built only from classes registered
in :mod:`core.models.custom`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import ExportError
from core.models.manifest import MANIFEST_FORMAT, MANIFEST_VERSION, apply_layers, build_entry, set_module, skeleton_from_config
from core.models.folder import STUDIO_MANIFEST, ModelFolderError, has_vocabulary, read_config, read_json_object, refuse_pickles
from core.models.state import ModelState
from core.models.student_families import is_student_folder

# An export folder that cannot (or must not) be loaded; caught as ModelLoadError or ExportError.
ExportLoadError = ModelFolderError


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ExportLoadError(f"{path / STUDIO_MANIFEST} is not a studio model manifest")
    if int(manifest.get("version", 0)) > MANIFEST_VERSION:
        raise ExportLoadError(f"{path} was written by a newer studio (manifest version {manifest['version']})")
    weights = str(manifest.get("weights", ""))
    if not weights.endswith(".safetensors") or Path(weights).name != weights:
        raise ExportLoadError(
            f"{path / STUDIO_MANIFEST} names the weights file {weights!r}; only a .safetensors file inside the "
            "folder is accepted (pickled weights can run code when loaded)"
        )
    for key in ("modules", "shared", "layers"):
        if not isinstance(manifest.get(key, []), list):
            raise ExportLoadError(f"{path / STUDIO_MANIFEST}: {key!r} must be a list")


def _load_config(path: Path):
    from transformers import AutoConfig

    read_config(path)  # a JSON object, a BERT-family type, no remote code
    return AutoConfig.from_pretrained(str(path), trust_remote_code=False)


def _load_tokenizer(path: Path):
    if not has_vocabulary(path):  # an export may come without a tokenizer
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


def load_plain(path: Path) -> ModelState:
    """A standard folder through plain transformers: the ``AutoModelFor...`` class of the head its config names."""
    from transformers.utils import logging as hf_logging

    from core.models.heads import auto_class, config_kind

    auto = auto_class(config_kind(_load_config(path)))
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar per reload is noise in the studio's own progress display
    try:
        model = auto.from_pretrained(str(path), use_safetensors=True, trust_remote_code=False)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return ModelState(model=model.eval(), tokenizer=_load_tokenizer(path), source=str(path))


def load_model_folder(path: str | Path) -> ModelState:
    """Load a folder written by :func:`core.export.api.export_model` (``hf``) or ``save_checkpoint``."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ExportLoadError(f"{path} is not a folder")
    refuse_pickles(path)  # the studio never writes one, so any pickle here is foreign
    if is_student_folder(path):  # a BiLSTM / CNN student: no transformers class, its own manifest
        from core.models.students.folder import load_student_folder

        try:
            return load_student_folder(path)
        except ExportLoadError:
            raise
        except (ExportError, OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise ExportLoadError(f"cannot load {path}: {exc}") from None
    if not (path / "config.json").is_file():
        raise ExportLoadError(f"{path} has no config.json")
    try:
        if not (path / STUDIO_MANIFEST).is_file():
            return load_plain(path)  # reads the config first: same refusals (remote code, foreign types)
        return _load_manifest(path)
    except ExportLoadError:
        raise
    except ExportError as exc:
        raise ExportLoadError(f"cannot load {path}: {exc}") from None
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ExportLoadError(f"cannot load {path}: {exc}") from exc


def _load_manifest(path: Path) -> ModelState:
    from safetensors.torch import load_file

    from core.models.tensors import load_tensors

    manifest = read_json_object(path / STUDIO_MANIFEST)
    _check_manifest(manifest, path)
    config = _load_config(path)
    # resolve every module type before building anything, so an unknown one fails fast and clearly
    entries = sorted(manifest.get("modules", []), key=lambda e: str(e.get("path", "")).count("."))
    for entry in entries:
        if entry.get("kind") == "custom":
            build_entry_check(entry)
    weights = path / manifest["weights"]
    if not weights.is_file():
        raise ExportLoadError(f"{path} lacks its weights file {manifest['weights']}")
    model = skeleton_from_config(config)
    for entry in entries:
        if entry.get("kind") != "dynamic_int8":  # filled from the weights by load_tensors
            set_module(model, str(entry["path"]), build_entry(entry))
    apply_layers(model, manifest.get("layers", []))
    load_tensors(model, manifest, load_file(str(weights)))
    model.eval()
    return ModelState(model=model, tokenizer=_load_tokenizer(path), source=str(path),
                      quantized=bool(manifest.get("quantized")), extras=_extras(model))


def _extras(model) -> dict[str, Any]:
    """What later steps read from ``state.extras`` and the weights alone cannot say: shared encoder layers."""
    from core.models.adapters import adapter_for

    try:
        adapter = adapter_for(model)
        layers = [] if adapter.shares_layers else adapter.layers(model)
    except TypeError:
        return {}
    by_id: dict[int, list[int]] = {}
    for i, layer in enumerate(layers):
        by_id.setdefault(id(layer), []).append(i)
    groups = [g for g in by_id.values() if len(g) > 1]
    return {"shared_layers": groups} if groups else {}


def build_entry_check(entry: dict[str, Any]) -> None:
    from core.models.custom import module_class

    try:
        module_class(str(entry.get("class")))
    except KeyError as exc:
        raise ExportLoadError(
            f"the export uses the module type {entry.get('class')!r} at {entry.get('path')}, which this studio does "
            f"not know ({exc.args[0]}); it refuses to guess or to run code from the folder"
        ) from None
