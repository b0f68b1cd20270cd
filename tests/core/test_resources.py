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


STUDIES = sorted((Path(__file__).parents[2] / "resources" / "studies").glob("*.yaml"))


def test_example_studies_ship():
    assert {p.name for p in STUDIES} >= {"order-heads-ffn-int8.yaml", "search-heads-ffn-int8.yaml"}


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_every_shipped_study_is_valid_and_its_stored_form_reloads(path):
    from core.study.plan import plan
    from core.study.spec import StudySpec

    spec = StudySpec.load(path)
    assert spec.recipe.model.source == "default" and spec.recipe.validate()
    assert StudySpec.from_dict(spec.to_dict()).to_dict() == spec.to_dict()  # what the database keeps
    if spec.kind != "search":
        assert any(not t.problems for t in plan(spec))
