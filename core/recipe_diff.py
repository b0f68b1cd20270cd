"""What differs between recipes, compared as they would run: every default filled in.

A stack built in the studio stores every setting while a shipped recipe stores
only what it changes; compared raw, equal values would show as differences. So
each recipe is first made *effective* (sections and step settings completed with
their defaults from the recipe dataclasses and the method registry, values
coerced as the engine would), then compared. Steps are numbered from 1, as the
studio and the validation messages number them, and a value a recipe does not
have (a step it lacks, an empty optional setting) is written one way: ``MISSING``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any, Sequence

MISSING = "\u2014"
IGNORED = ("name", "version", "format")


def _section(cls: type, raw: Any, key: str) -> dict[str, Any]:
    if isinstance(raw, str) and key != "evaluation":
        raw = {"source": raw}
    out = asdict(cls())
    if isinstance(raw, dict):
        out.update(raw)
    return out


def effective_settings(method: str, settings: dict | None) -> dict[str, Any]:
    """``settings`` of ``method`` with the registry's defaults for what they leave out, coerced like the engine.

    An unknown method, or a value that does not convert, is kept as written.
    """
    from core.registry import check_field, config_fields, get_method

    settings = dict(settings or {})
    try:
        infos = config_fields(get_method(method).config_cls)
    except KeyError:
        return settings
    out: dict[str, Any] = {}
    for info in infos:
        if info.name in settings:
            out[info.name], _ = check_field(info, settings.pop(info.name))  # a bad value is kept as coerced so far
        else:
            out[info.name] = copy.deepcopy(info.default)
    out.update(settings)  # unknown keys stay visible
    return out


def effective_recipe(recipe: dict | None) -> dict[str, Any]:
    """A recipe mapping (as stored with a run, or ``Recipe.to_dict()``) with every default filled in."""
    from core.recipe import FORMAT_VERSION, TASKS, DataRef, EvaluationSettings, ModelRef

    raw = copy.deepcopy(recipe or {})
    out: dict[str, Any] = {"name": raw.pop("name", "untitled"), "task": raw.pop("task", TASKS[0]),  # v1: no task
                           "device": raw.pop("device", "auto"),
                           "seed": raw.pop("seed", 0), "cache": raw.pop("cache", True),
                           "version": raw.pop("version", FORMAT_VERSION)}
    raw.pop("format", None)
    for key, cls in (("model", ModelRef), ("data", DataRef), ("evaluation", EvaluationSettings)):
        out[key] = _section(cls, raw.pop(key, None), key)
    steps = []
    for step in raw.pop("steps", None) or []:
        if isinstance(step, str):
            step = {"method": step}
        if not isinstance(step, dict):
            steps.append({"method": str(step), "label": None, "settings": {}})
            continue
        method = str(step.get("method", "?"))
        steps.append({"method": method, "label": step.get("label"),
                      "settings": effective_settings(method, step.get("settings"))})
    out["steps"] = steps
    out.update(raw)  # anything else the recipe had
    return out


def _rows(recipe: dict[str, Any]) -> dict[str, Any]:
    """``{"data.train_samples": 2000, "step 1: method": "finetune", "step 1: epochs": 1.0, ...}``."""
    out: dict[str, Any] = {}
    for key, value in recipe.items():
        if key == "steps":
            for n, step in enumerate(value, 1):
                out[f"step {n}: method"] = step["method"]
                out[f"step {n}: label"] = step["label"]
                for name, setting in step["settings"].items():
                    out[f"step {n}: {name}"] = setting
        elif isinstance(value, dict):
            for name, item in value.items():
                out[f"{key}.{name}"] = item
        else:
            out[key] = value
    return out


def show(value: Any) -> str:
    """A value as the diff writes it: ``MISSING`` for absent or empty (None), lists as ``a, b``."""
    if value is None or value is MISSING:
        return MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)


def recipe_diff(recipes: Sequence[dict], ignore: tuple[str, ...] = IGNORED) -> list[tuple[str, list[str]]]:
    """The settings whose effective values differ between ``recipes``: ``(field, [value per recipe])``.

    Fields come in recipe order (sections, then steps numbered from 1); a value a
    recipe lacks and an empty one are both written ``MISSING`` and compare equal.
    """
    flat = [_rows(effective_recipe(r)) for r in recipes]
    paths: list[str] = []
    for f in flat:
        paths += [p for p in f if p not in paths]
    rows = []
    for path in paths:
        if path in ignore:
            continue
        values = [f.get(path) for f in flat]
        shown = [show(v) for v in values]
        if any(v != values[0] for v in values[1:]) and len(set(shown)) > 1:
            rows.append((path, shown))
    return rows
