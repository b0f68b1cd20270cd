"""One architecture adapter per encoder family.

``adapter_for(model)`` gives the adapter of a loaded model; ``source_profile``
reads a model folder's family and state without loading it. Which methods a
family refuses is each method's own knowledge, on its spec
(:mod:`core.applicability` answers from there).
"""

from __future__ import annotations

from core.models.adapters.albert import AlbertAdapter
from core.models.adapters.base import Adapter, AttentionLayout, FamilyRefusal, FFNLayout
from core.models.adapters.bert import (BertAdapter, CamembertAdapter, ElectraAdapter, RobertaAdapter,
                                       XLMRobertaAdapter)
from core.models.adapters.deberta import DebertaAdapter, DebertaV2Adapter
from core.models.adapters.distilbert import DistilBertAdapter
from core.models.adapters.mobilebert import MobileBertAdapter
from core.models.adapters.modernbert import ModernBertAdapter

__all__ = ["ADAPTERS", "Adapter", "AttentionLayout", "FFNLayout", "FamilyRefusal", "adapter_for", "adapter_for_type",
           "families", "source_profile"]

ADAPTERS: dict[str, Adapter] = {}
for _cls in (BertAdapter, RobertaAdapter, XLMRobertaAdapter, CamembertAdapter, ElectraAdapter, DistilBertAdapter,
             AlbertAdapter, DebertaAdapter, DebertaV2Adapter, ModernBertAdapter, MobileBertAdapter):
    for _type in _cls.model_types:
        ADAPTERS[_type] = _cls()


def families() -> list[str]:
    return sorted(ADAPTERS)


def adapter_for_type(model_type: str) -> Adapter:
    try:
        return ADAPTERS[model_type]
    except KeyError:
        raise FamilyRefusal(f"no architecture adapter for model type {model_type!r}; the studio knows "
                            f"{', '.join(families())}") from None


def adapter_for(model) -> Adapter:
    """The adapter of a loaded model, from ``model.config.model_type``."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if not isinstance(model_type, str):
        raise FamilyRefusal(f"{type(model).__name__} has no config.model_type; the studio works on Hugging Face "
                            "BERT-family encoders")
    return adapter_for_type(model_type)


def source_profile(source: str) -> tuple[str, bool]:
    """``(family, quantized)`` of a model source, read from its folder's JSON files only (no torch)."""
    from pathlib import Path

    from core.models.folder import STUDIO_MANIFEST, read_config, read_json_object
    from core.models.student_families import STUDENT_FILE, is_student_folder

    if source in ("default", "tiny"):
        return "bert", False
    path = Path(source).expanduser()
    if not path.is_dir():
        return "", False  # a hub name: its family is known only once loaded
    if is_student_folder(path):  # a BiLSTM / CNN student's folder has no config.json
        manifest = read_json_object(path / STUDENT_FILE)
        return str(manifest.get("model_type", "")), bool(manifest.get("quantized"))
    family = str(read_config(path).get("model_type"))
    quantized = False
    if (path / STUDIO_MANIFEST).is_file():
        manifest = read_json_object(path / STUDIO_MANIFEST)
        modules = manifest.get("modules") or []
        quantized = bool(manifest.get("quantized")) or any(
            isinstance(m, dict) and (m.get("kind") == "dynamic_int8" or "KBit" in str(m.get("class", "")))
            for m in modules)
    return family, quantized
