"""The comparison names each run's own headline figure: a tagger's entity F1 fills the results table and the
scatters' vertical axis, not an empty accuracy (issue 21, part 6)."""

from __future__ import annotations

import math

from studio.compare import headline_axis, results_row, scatter_points
from studio.widgets.run_compare import ScatterPlot

TAGGER = {"entity_f1": 0.812, "entity_f1_low": 0.70, "entity_f1_high": 0.90, "entity_f1_retained": 0.95,
          "token_accuracy": 0.97, "speedup": 2.0, "size_ratio": 3.0, "parameters": 4e6, "size_bytes": 8e6}
SCORER = {"pearson": 0.61, "pearson_retained": 0.9, "mse": 1.2, "speedup": 1.5, "size_ratio": 2.0}
CLASSIFIER = {"accuracy": 0.85, "accuracy_retained": 0.98, "speedup": 1.8, "size_ratio": 2.5}


def test_the_results_row_shows_the_runs_headline_and_its_retained_share():
    row = results_row("tagger", TAGGER)
    assert row[1] == "Entity F1 81.2 % (70.0–90.0)" and row[2] == "95.0 %"
    assert results_row("scorer", SCORER)[1].startswith("Pearson") and "0.610" in results_row("scorer", SCORER)[1]
    assert results_row("classifier", CLASSIFIER)[1] == "85.0 %"  # as before


def test_the_scatters_plot_each_runs_headline_and_name_it():
    xs, ys = scatter_points([TAGGER, CLASSIFIER], "speedup")
    assert xs == [2.0, 1.8] and ys == [0.812, 0.85]
    assert headline_axis([TAGGER, dict(TAGGER)]) == "Entity F1"
    assert headline_axis([CLASSIFIER]) == "accuracy"
    assert headline_axis([TAGGER, CLASSIFIER]) == "headline figure (runs of different tasks)"
    assert math.isnan(scatter_points([{}], "size")[1][0])


def test_a_scatter_of_taggers_is_titled_and_labelled_with_entity_f1(qtbot):
    plot = ScatterPlot("speedup")
    qtbot.addWidget(plot)
    plot.show_points(["a", "b"], [TAGGER, dict(TAGGER, entity_f1=0.7, speedup=3.0)])
    item = plot.getPlotItem()
    assert item.titleLabel.text.startswith("Entity F1 vs speedup")
    assert item.getAxis("left").labelText == "Entity F1"
    assert len(plot.labels) == 2  # both runs placed, none explained away for a missing accuracy
