"""Ready-made stacks from resources/recipes, and the device choice that rides in the recipe and the settings."""

from __future__ import annotations

import yaml

from studio.recipe_files import examples_folder


def test_the_examples_menu_lists_every_shipped_recipe_and_loads_its_steps(window):
    shipped = {yaml.safe_load(p.read_text())["name"]: p for p in examples_folder().glob("*.yaml")}
    assert len(shipped) >= 3
    actions = {a.text(): a for a in window.examples_menu.actions()}
    assert set(actions) == set(shipped)
    for name, path in shipped.items():
        actions[name].trigger()
        expected = yaml.safe_load(path.read_text())["steps"]
        steps = window.recipe().steps
        assert [s.method for s in steps] == [e["method"] for e in expected]
        assert [s.settings for s in steps] == [e.get("settings", {}) or {} for e in expected]
        assert window.recipe().name == name
        assert window.recipe_path is None  # saving asks where: the shipped file is never overwritten


def test_the_device_round_trips_through_the_recipe_and_the_settings(qtbot, window):
    import torch

    from studio.main_window import MainWindow

    panel = window.data_panel
    assert window.recipe().device == "auto"
    panel.set_cuda_available(torch.cuda.is_available())
    cuda = panel.device_box.model().item(panel.device_box.findData("cuda"))
    assert cuda.isEnabled() == torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert "no CUDA" in cuda.toolTip()
    panel.device_box.setCurrentIndex(panel.device_box.findData("cpu"))
    assert window.recipe().device == "cpu"
    assert window.settings.device() == "cpu"
    again = MainWindow(settings=window.settings, store=window.store)
    qtbot.addWidget(again)
    assert again.recipe().device == "cpu"  # remembered between sessions
    recipe = window.recipe()
    recipe.device = "cuda"
    again.set_recipe(recipe)  # a recipe's device wins, GPU here or not
    assert again.data_panel.device() == "cuda" and again.recipe().device == "cuda"
    assert window.settings.device() == "cuda"
    again.controller.shutdown()
