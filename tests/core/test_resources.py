from pathlib import Path

import pytest

from core.recipe import Recipe

RECIPES = sorted((Path(__file__).parents[2] / "resources" / "recipes").glob("*.yaml"))


def test_example_recipes_ship():
    assert len(RECIPES) >= 3


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_is_valid_and_round_trips(path):
    recipe = Recipe.load(path).validate()
    assert recipe.model.source == "default" and recipe.steps
    assert Recipe.from_text(recipe.to_text("json"), "json").to_dict() == recipe.to_dict()
