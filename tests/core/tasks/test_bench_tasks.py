"""bench.tasks: each kind's recipe at its natural shape, the row it keeps, and the generated table (issue 21)."""

from __future__ import annotations

import argparse

import pytest

from bench import tasks as bench


def _args(tiny: bool) -> argparse.Namespace:
    return argparse.Namespace(tiny=tiny, finetune_steps=4, train_samples=64, eval_samples=24, batch=4, rounds=3)


@pytest.mark.parametrize("kind, length, stride", [("question-answering", 384, 128), ("token-classification", 128, None),
                                                  ("sequence-classification", 128, None), ("regression", 128, None),
                                                  ("multi-label", 128, None)])
def test_each_kind_is_timed_at_its_natural_shape_and_its_recipe_is_valid(kind, length, stride):
    recipe = bench.recipe_for(kind, _args(tiny=False))
    assert recipe.task == kind and recipe.data.max_length == length and recipe.model.source == "default"
    if stride:
        assert recipe.data.doc_stride == stride
    assert recipe.evaluation.latency_profiles == ["throughput-fixed"] and recipe.evaluation.measure_baseline
    assert not recipe.problems(), recipe.problems()
    tiny = bench.recipe_for(kind, _args(tiny=True))
    assert tiny.model.source == "tiny" and tiny.data.max_length <= 128 and not tiny.problems()


def test_a_row_keeps_the_tasks_headline_and_the_table_shows_it_with_intervals():
    recipe = bench.recipe_for("token-classification", _args(tiny=False))
    results = {"entity_f1": 0.8, "entity_f1_low": 0.7, "entity_f1_high": 0.9, "baseline_entity_f1": 0.82,
               "entity_f1_retained": 0.8 / 0.82, "entity_f1_retained_low": 0.9, "entity_f1_retained_high": 1.02,
               "speedup": 2.5, "speedup_low": 2.4, "speedup_high": 2.6, "size_ratio": 3.0, "accuracy": 0.1,
               "timing": {"throughput-fixed": {"protocol": {"batch_size": 32}}}}
    row = bench.row_of("token-classification", recipe, results)
    assert row["headline"] == "entity_f1" and row["shape"] == "4 x 128" and "accuracy" not in row
    assert row["protocol"] == {"batch_size": 32}
    qa = bench.row_of("question-answering", bench.recipe_for("question-answering", _args(False)), {})
    assert qa["shape"] == "4 x 384 (doc_stride 128)"
    text = bench.table([("tasks", {"model": "embedded MiniLM-L6", "quiet": False, "rows": [
        row, {"task": "regression", "headline": "pearson", "pearson": 0.5, "baseline_pearson": 0.6,
              "speed_note": "too small to time"}, {"task": "multi-label", "headline": "-", "error": "failed: boom"}]})
    ]).markdown()
    assert "| tasks.json | token-classification | ner.conll | 4 x 128 | Entity F1 | 82.0 % | 80.0 % | " \
           "97.6 % (90.0 %-102.0 %) | 2.50x (IQR 2.40-2.60) | 3.00x |" in text
    assert "| Pearson r | 0.600 | 0.500 |" in text and "too small to time" in text and "failed: boom" in text
    assert "not to be quoted" in text


def test_the_docs_table_is_rendered_by_this_bench():
    from bench import tables

    assert tables.RENDERERS["tasks"] is bench.table


def test_quiet_means_a_load_under_a_quarter_of_the_cpus():
    assert bench.quiet([0.5, 0.4, 0.3], 16) and not bench.quiet([10.0, 9.0, 8.0], 2) and not bench.quiet(None, 2)
