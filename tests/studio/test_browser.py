"""The saved-runs browser: details of one run from the database, comparison of several, rename, delete."""

from __future__ import annotations

import math

import pytest

from core.db import Repository, open_database
from core.recipe import Step
from studio.compare import flatten, pareto_front, recipe_diff, results_row
from tests.studio.conftest import quick_recipe, record_run


def test_pareto_front_keeps_only_unbeaten_points_sorted_by_cost():
    # cost (lower better), accuracy (higher better)
    costs = [10.0, 5.0, 5.0, 20.0, 8.0, float("nan")]
    accs = [0.80, 0.70, 0.60, 0.85, 0.82, 0.99]
    assert pareto_front(costs, accs) == [1, 4, 3]  # 0 is beaten by 4; 2 by 1; NaN never counts
    assert pareto_front([], []) == []


def test_recipe_diff_lists_only_differing_fields():
    a, b = quick_recipe(max_steps=3).to_dict(), quick_recipe(max_steps=5).to_dict()
    b["name"] = "other"
    b["steps"].append({"method": "quant.dynamic_int8", "settings": {}, "label": None})
    rows = dict(recipe_diff([a, b]))
    assert rows == {"step 1: max_steps": ["3", "5"], "step 2: method": ["\u2014", "quant.dynamic_int8"],
                    "step 2: per_channel": ["\u2014", "True"], "step 2: include_classifier": ["\u2014", "False"]}
    assert flatten({"x": {"y": [1, 2]}}) == {"x.y": [1, 2]}
    row = results_row("v", {"accuracy": 0.8123, "accuracy_retained": 0.97, "parameters": 4.4e6,
                            "size_bytes": 17.6e6, "speedup": 1.9})
    assert row == ["v", "81.2 %", "97.0 %", "4.40 M", "17.6", "1.90x"]
    assert results_row("v", {"accuracy": math.nan})[1] == ""


@pytest.fixture
def three_runs(db_url):
    recipes = []
    for n, steps in enumerate((3, 5, 7)):
        r = quick_recipe(max_steps=steps)
        r.name = f"variant-{n}"
        recipes.append(r)
    recipes[2].steps.append(Step("quant.dynamic_int8", {}))
    figures = [
        {"accuracy": 0.80, "accuracy_retained": 1.0, "parameters": 4.0e6, "size_bytes": 16e6, "latency_ms": 10.0, "speedup": 1.0, "size_ratio": 1.0},
        {"accuracy": 0.78, "accuracy_retained": 0.975, "parameters": 2.0e6, "size_bytes": 8e6, "latency_ms": 5.0, "speedup": 2.0, "size_ratio": 2.0},
        {"accuracy": 0.70, "accuracy_retained": 0.875, "parameters": 2.0e6, "size_bytes": 4e6, "latency_ms": 6.0, "speedup": 1.7, "size_ratio": 4.0},
    ]
    ids = [record_run(db_url, r, f, losses=tuple(1.0 / (k + 1) for k in range(r.steps[0].settings["max_steps"])),
                      accuracies=(0.5, f["accuracy"])) for r, f in zip(recipes, figures)]
    failed = record_run(db_url, quick_recipe(), {}, status="failed")
    return ids, failed


def test_selecting_a_run_shows_its_details_and_curves_from_the_database(qtbot, window, three_runs, db_url):
    ids, failed = three_runs
    window.runs.refresh()
    window.main_tabs.setCurrentWidget(window.browser)
    window.runs.select_runs([ids[1]])
    details = window.browser.details
    assert window.browser.pages.currentWidget() is details
    assert "variant-1" in details.header.text() and "finished" in details.header.text()
    figures = details.figure_texts()  # labelled and worded by core.metrics.figures
    assert figures["Accuracy"] == "78.00 %" and figures["Speedup"] == "2.00x faster" and figures["Size"] == "8.00 MB"
    loss = details.curves["train/loss"]
    assert list(loss.xData) == [1, 2, 3, 4, 5] and loss.yData[-1] == pytest.approx(0.2)
    assert "max_steps: 5" in details.recipe_text.toPlainText()
    assert details.error.isHidden()
    window.runs.select_runs([failed])
    assert details.error.isVisibleTo(details) and "text" in details.error.text()
    assert "failed" in details.header.text()


def test_selecting_several_runs_compares_them(qtbot, window, three_runs):
    ids, _ = three_runs
    window.runs.refresh()
    window.runs.select_runs(ids)
    view = window.browser.comparison
    assert window.browser.pages.currentWidget() is view
    names = [r.name for r in view.records]
    assert sorted(names) == ["variant-0", "variant-1", "variant-2"]
    order = {r.name: i for i, r in enumerate(view.records)}
    # accuracy vs speedup: variant-1 (2.0x, 0.78) and variant-0 (1.0x, 0.80) are unbeaten; variant-2 is beaten.
    assert view.scatters["speedup"].front == [order["variant-1"], order["variant-0"]]
    # accuracy vs size ratio: variant-2 is the smallest, so it joins the front.
    assert view.scatters["size"].front == [order["variant-2"], order["variant-1"], order["variant-0"]]
    table = {view.results.item(i, 0).text().split()[0]: [view.results.item(i, j).text() for j in range(6)]
             for i in range(view.results.rowCount())}
    assert table["variant-1"][1:] == ["78.0 %", "97.5 %", "2.00 M", "8.0", "2.00x"]
    fields = [view.diff.item(i, 0).text() for i in range(view.diff.rowCount())]
    assert "step 1: max_steps" in fields and "step 2: method" in fields
    assert not any(f.startswith("data.") or f == "name" for f in fields)  # identical or ignored fields stay out
    loss_curves = [c for c in view.curves["loss"].getPlotItem().listDataItems()]
    assert len(loss_curves) == 3


def test_renaming_and_deleting_runs_from_the_browser(qtbot, window, three_runs, db_url, dialogs):
    ids, failed = three_runs
    window.runs.refresh()
    window.runs.select_runs([ids[0]])
    window.runs.rename_selected("baseline fp32")
    row = window.runs.run_ids().index(ids[0])
    assert window.runs.table.item(row, 1).text() == "baseline fp32"
    assert "baseline fp32" in window.browser.details.header.text()  # the selection survived the refresh
    window.runs.select_runs([ids[2], failed])
    dialogs.answer = False
    window.runs.delete_button.click()
    assert len(window.runs.run_ids()) == 4
    dialogs.answer = True
    window.runs.delete_button.click()
    assert sorted(window.runs.run_ids()) == sorted(ids[:2])
    with open_database(db_url) as db:
        repo = Repository(db)
        assert repo.get_run(ids[0]).name == "baseline fp32"
        assert sorted(r.id for r in repo.list_runs()) == sorted(ids[:2])
