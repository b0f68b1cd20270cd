"""Issue 13, item 2: the recipe diff compares effective settings, numbers steps from 1, writes a missing value one way."""

from __future__ import annotations

from core.recipe import Recipe, Step
from core.recipe_diff import MISSING, effective_recipe, recipe_diff
from core.registry import config_fields, get_method


def _gui_stack() -> dict:
    """A stack as the studio stores it: every setting of every step written out."""
    steps = []
    for method, changes in (("finetune", {"epochs": 2.0}), ("quant.dynamic_int8", {})):
        settings = {f.name: f.default for f in config_fields(get_method(method).config_cls)}
        steps.append(Step(method, {**settings, **changes}))
    return Recipe(name="gui", steps=steps).to_dict()


def _shipped() -> dict:
    """The same stack as a shipped recipe writes it: only what it sets, no evaluation section, no labels."""
    return {"name": "shipped", "model": "default",
            "steps": [{"method": "finetune", "settings": {"epochs": "2"}}, "quant.dynamic_int8"]}


def test_equal_effective_settings_are_not_differences():
    assert recipe_diff([_gui_stack(), _shipped()]) == []
    full = effective_recipe(_shipped())
    assert full["steps"][0]["settings"]["warmup_ratio"] == get_method("finetune").config_cls().warmup_ratio
    assert full["evaluation"]["batch_size"] == 64


def test_differences_are_numbered_from_one_and_missing_is_one_mark():
    other = _shipped()
    other["steps"][0]["settings"]["weight_decay"] = 0.1
    other["steps"].insert(1, {"method": "prune.magnitude", "settings": {"sparsity": 0.5}})
    rows = dict(recipe_diff([_gui_stack(), other]))
    assert rows["step 1: weight_decay"] == [str(get_method("finetune").config_cls().weight_decay), "0.1"]
    assert rows["step 2: method"] == ["quant.dynamic_int8", "prune.magnitude"]
    assert rows["step 3: method"] == [MISSING, "quant.dynamic_int8"]
    # every cell of a step one recipe lacks is the same mark; there is no "None" anywhere
    assert all(MISSING in values or "None" not in values for values in rows.values())
    assert not any("None" in v for values in rows.values() for v in values)
    assert not any(path.startswith(("steps[", "step 0")) for path in rows)
