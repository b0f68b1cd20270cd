"""Real runs feed the head views: sensitivity scores reach the inspector, pruned heads show as zeros."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.recipe import Step
from tests.conftest import tiny_recipe

RUN_TIMEOUT_MS = 60_000


def test_sensitivity_and_head_pruning_fill_the_inspector_and_the_head_mask(qtbot, window):
    recipe = tiny_recipe(
        Step("analyze.sensitivity", {"measure": "gradient", "batches": 2, "batch_size": 8, "layers": False}),
        Step("prune.heads", {"amount": 0.5, "batches": 2, "batch_size": 8}),
        train=64,
    )
    recipe.evaluation.measure_baseline = False
    window.set_recipe(recipe)
    bridge = window.controller.bridge
    masks, scores, checkpoints = [], [], []
    bridge.maskUpdate.connect(masks.append)
    bridge.importanceUpdate.connect(scores.append)
    bridge.checkpoint.connect(checkpoints.append)
    with qtbot.waitSignal(bridge.runFinished, timeout=RUN_TIMEOUT_MS):
        window.start_run()

    # The sensitivity step wrote its JSON and announced it; the window loaded it.
    [sens] = [c for c in checkpoints if c.kind == "sensitivity"]
    written = json.loads(Path(sens.path).read_text(encoding="utf-8"))
    assert np.array(written["heads"]).shape == (2, 4)  # the tiny BERT: 2 layers x 4 heads
    assert window.sensitivity["heads"] == written["heads"]

    # The head mask heat map shows the pruning step's mask: half of the 8 heads removed, drawn as zeros.
    # The analysis sends importance (step 1), the pruning its keep/remove mask (step 2): two kinds of event.
    assert [(e.index, e.kind) for e in scores] == [(0, "heads")]
    heads = [m for m in masks if m.kind == "heads"]
    assert heads and {m.index for m in heads} == {1}
    last = np.array(heads[-1].mask, dtype=float)
    assert last.sum() == 4 and (last == 0).sum() == 4
    assert np.array_equal(window.heatmap.mask, last)
    drawn = window.heatmap.image.image
    assert np.array_equal(drawn == 0, last == 0)
    assert "4 of 8 heads kept" in window.heatmap.caption.text()

    # Inspecting the model now shows the importance grid next to the layer table.
    window.data_panel.inspect_model()
    qtbot.waitUntil(lambda: window.inspector is not None, timeout=20_000)
    inspector = window.inspector
    qtbot.addWidget(inspector)
    assert inspector.layers_table.rowCount() == 2
    assert np.allclose(inspector.importance.scores, np.array(written["heads"]))
    assert inspector.importance.plot.isVisibleTo(inspector)
    assert sens.run_id[:8] in inspector.importance.caption.text()


def test_importance_map_pads_ragged_layers_and_rejects_bad_files(qtbot, tmp_path):
    import pytest

    from core.errors import StudioError
    from studio.widgets.importance_map import ImportanceMap, load_sensitivity

    view = ImportanceMap()
    qtbot.addWidget(view)
    view.set_scores([[0.1, 0.9, 0.5], [0.3]])
    assert view.scores.shape == (2, 3) and np.isnan(view.scores[1, 2])
    assert view.bar.levels() == (0.1, 0.9)
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"layers": [1.0]}))
    with pytest.raises(StudioError, match="head scores"):
        load_sensitivity(bad)
