"""`bert-studio runs` shows each run's own headline figure: a tagger's entity F1, not an empty accuracy (issue 21)."""

from __future__ import annotations

from core.cli.runs_cmd import _headline


def test_a_task_run_lists_its_headline_figure_by_name():
    assert _headline({"entity_f1": 0.8123, "entity_f1_low": 0.7, "entity_f1_high": 0.9}).startswith("Entity F1 81.23 %")
    assert _headline({"pearson": 0.5, "mse": 1.0}).startswith("Pearson")


def test_a_classifier_run_lists_its_accuracy_as_before():
    assert _headline({"accuracy": 0.85, "accuracy_low": 0.8, "accuracy_high": 0.9}) == "85.00 % (80.00–90.00)"
    assert _headline({}) == "-"
