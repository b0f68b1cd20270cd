"""The benchmarks' stacks are valid recipes: a misspelt setting fails here, not an hour into a benchmark."""

from __future__ import annotations

from core.recipe import Recipe


def _problems(steps) -> list[str]:
    recipe = Recipe(name="bench", steps=list(steps))
    return [str(p) for p in recipe.problems()]


def test_every_bench_methods_variant_is_a_valid_stack():
    from bench.methods import variants

    rec = {"epochs": 1, "learning_rate": 5e-5}
    kd = {"epochs": 1, "learning_rate": 1e-4, "temperature": 2.0, "alpha": 0.5}
    found = variants(rec, kd, kd)
    assert len(found) >= 20
    for name, steps in found:
        assert _problems(steps) == [], name


def test_the_frontier_stacks_come_from_the_shipped_recipe_without_its_teacher_fine_tune():
    from bench.frontier import RECIPE, stacks

    shipped = Recipe.load(RECIPE)
    found = stacks(shipped)
    frontier, milder = found["frontier"], found["milder (FFN halved once)"]
    assert [s.method for s in frontier] == [s.method for s in shipped.steps[1:]]
    assert shipped.steps[0].method == "finetune"
    # the milder stack stops before the second FFN cut and its distillation, and shares every step before them
    assert len(milder) == len(frontier) - 2 and milder[:5] == frontier[:5] and milder[-2:] == frontier[-2:]
    for steps in found.values():
        assert _problems(steps) == []

