"""One architecture adapter per encoder family, and the checks that refuse a method before a run.

``adapter_for(model)`` gives the adapter of a loaded model; ``applicability``
and ``stack_problems`` answer, without Qt (and, for an unquantized model, without torch), whether a method can apply
to a family (and to a model that is already int8 / k-bit), with the reason.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from core.models.adapters.albert import AlbertAdapter
from core.models.adapters.base import Adapter, AttentionLayout, FamilyRefusal, FFNLayout
from core.models.adapters.bert import (BertAdapter, CamembertAdapter, ElectraAdapter, RobertaAdapter,
                                       XLMRobertaAdapter)
from core.models.adapters.deberta import DebertaAdapter, DebertaV2Adapter
from core.models.adapters.distilbert import DistilBertAdapter
from core.models.adapters.mobilebert import MobileBertAdapter
from core.models.adapters.modernbert import ModernBertAdapter

__all__ = ["ADAPTERS", "Adapter", "AttentionLayout", "FFNLayout", "FamilyRefusal", "adapter_for", "adapter_for_type",
           "applicability", "check_method", "families", "recipe_problems", "source_profile", "stack_problems"]

ADAPTERS: dict[str, Adapter] = {}
for _cls in (BertAdapter, RobertaAdapter, XLMRobertaAdapter, CamembertAdapter, ElectraAdapter, DistilBertAdapter,
             AlbertAdapter, DebertaAdapter, DebertaV2Adapter, ModernBertAdapter, MobileBertAdapter):
    for _type in _cls.model_types:
        ADAPTERS[_type] = _cls()

# Families whose layers distill.student_init's init_layers cannot project (core/methods/distillation/projection.py).
PROJECTION_REFUSALS = {
    "albert": "its layers share one set of weights across depths, so student layers cannot each start from a "
              "teacher layer of their own",
    "deberta": "its disentangled attention has relative-position projections that the projection does not map",
    "deberta-v2": "its disentangled attention has relative-position projections that the projection does not map",
    "modernbert": "its fused QKV, gated FFN and pre-norm layers are not mapped by the projection",
    "mobilebert": "its bottleneck layers have widths of their own, not the hidden width",
}
_PROJECTS = ("init_layers projects BERT-style post-norm layers (bert, roberta, xlm-roberta, camembert, electra, "
             "distilbert); ")

# Settings that a family cannot take, beyond whole methods: (method, setting, value) -> reason.
_SETTING_REFUSALS: dict[str, dict[tuple[str, str, Any], str]] = {
    "albert": {("distill.student_init", "mode", "layers"):
               "ALBERT uses one set of layer weights at every depth, so keeping some teacher layers saves nothing; "
               "use mode: config for a smaller ALBERT"},
    "mobilebert": {("distill.student_init", "mode", "config"):
                   "MobileBERT's bottleneck sizes are tied to its hidden width; build the student with mode: layers"},
}
for _family, _why in PROJECTION_REFUSALS.items():
    _SETTING_REFUSALS.setdefault(_family, {})[("distill.student_init", "init_layers", True)] = _PROJECTS + _why
# Block movement pruning removes heads and FFN neurons with prune.heads' and prune.ffn's surgery: it is
# refused where they are, for the same reason.
for _family, _adapter in ADAPTERS.items():
    for _surgery in ("prune.heads", "prune.ffn"):
        if _surgery in _adapter.refusals:
            _SETTING_REFUSALS.setdefault(_family, {})[("prune.movement", "granularity", "blocks")] = (
                f"blocks are removed like {_surgery} removes them, and {_adapter.refusals[_surgery]}")

FROZEN_REASON = ("the model holds int8 or k-bit weights (quantized before this step, or loaded from such an export), "
                 "so it cannot be trained, distilled or pruned further; start from the float model")


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


def applicability(method_name: str, family: str, settings: Mapping[str, Any] | None = None,
                  quantized: bool = False) -> str | None:
    """Why ``method_name`` cannot apply to a ``family`` model (None when it can); Qt-free and torch-free.

    ``settings`` (the step's; ``{}`` for the defaults) catch refusals that depend
    on one setting; without them (the palette) only a method no settings can
    rescue is refused. ``quantized`` says the model starts with int8 / k-bit weights.
    """
    adapter = ADAPTERS.get(family)
    if adapter is None:
        return f"{family!r} is not a supported encoder family ({', '.join(families())})"
    if quantized:
        from core.registry import get_method

        try:
            spec = get_method(method_name)
        except KeyError:
            spec = None
        if spec is not None and not spec.accepts_frozen:
            return f"{method_name} cannot apply to this {adapter.title} model: {FROZEN_REASON}"
    reason = adapter.refusals.get(method_name)
    if reason:
        return f"{method_name} cannot apply to a {adapter.title} model ({family}): {reason}"
    for (method, key, value), why in _SETTING_REFUSALS.get(family, {}).items():
        if method == method_name and settings is not None and settings.get(key, _default(method, key)) == value:
            return f"{method_name} with {key}: {value} cannot apply to a {adapter.title} model ({family}): {why}"
    return None


def _default(method: str, key: str) -> Any:
    from core.registry import get_method

    try:
        return get_method(method).default_settings().get(key)
    except KeyError:
        return None


def stack_problems(steps: Iterable[tuple[str, Mapping[str, Any]]], family: str,
                   quantized: bool = False) -> list[tuple[int, str]]:
    """``(step index, message)`` for each step that cannot apply to the model the stack starts from.

    The state a step meets follows the stack: after a step that ``freezes``
    the model (a real int8 conversion) the model counts as quantized.
    """
    from core.registry import get_method

    out = []
    for index, (method, settings) in enumerate(steps):
        reason = applicability(method, family, settings, quantized)
        if reason:
            out.append((index, reason))
        try:
            quantized = quantized or get_method(method).freezes
        except KeyError:
            pass
    return out


def recipe_problems(recipe, family: str | None = None, quantized: bool | None = None) -> list:
    """:class:`core.errors.Problem` for each step of ``recipe`` that cannot apply to the model it starts from.

    The family and state are read from the recipe's model source when not given
    (a hub name, unknown until loaded, is not checked). For ``validate`` / ``run``.
    """
    from core.errors import Problem

    if family is None or quantized is None:
        try:
            found_family, found_quantized = source_profile(str(recipe.model.source))
        except Exception:  # an unreadable folder is the loader's to report, with its own message
            return []
        family = found_family if family is None else family
        quantized = found_quantized if quantized is None else quantized
    if not family:
        return []
    steps = [(step.method, step.settings or {}) for step in recipe.steps]
    return [Problem(message, step=index, method=steps[index][0]) for index, message in
            stack_problems(steps, family, quantized)]


def require_applicable(recipe) -> None:
    """Raise :class:`core.errors.RecipeError` naming every step the model the recipe starts from cannot take."""
    from core.errors import RecipeError

    problems = recipe_problems(recipe)
    if problems:
        raise RecipeError(problems)


def check_method(method_name: str, model, settings: Mapping[str, Any] | None = None, quantized: bool = False) -> Adapter:
    """The model's adapter, after refusing (``FamilyRefusal``) a method that cannot apply to it."""
    adapter = adapter_for(model)
    reason = applicability(method_name, adapter.family, settings, quantized)
    if reason:
        raise FamilyRefusal(reason)
    return adapter


def source_profile(source: str) -> tuple[str, bool]:
    """``(family, quantized)`` of a model source, read from its folder's JSON files only (no torch)."""
    from pathlib import Path

    from core.models.folder import STUDIO_MANIFEST, read_config, read_json_object

    if source in ("default", "tiny"):
        return "bert", False
    path = Path(source).expanduser()
    if not path.is_dir():
        return "", False  # a hub name: its family is known only once loaded
    family = str(read_config(path).get("model_type"))
    quantized = False
    if (path / STUDIO_MANIFEST).is_file():
        manifest = read_json_object(path / STUDIO_MANIFEST)
        modules = manifest.get("modules") or []
        quantized = bool(manifest.get("quantized")) or any(
            isinstance(m, dict) and (m.get("kind") == "dynamic_int8" or "KBit" in str(m.get("class", "")))
            for m in modules)
    return family, quantized
