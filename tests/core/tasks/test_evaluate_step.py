"""The ``evaluate`` step measures a task's own figures mid-stack, not only its loss (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.recipe import DataRef
from tests.conftest import apply_method, method_context

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[3] / "resources" / "examples" / "tasks"


def test_an_evaluate_step_on_a_regression_task_records_pearson_spearman_and_mse(tmp_path):
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer

    ref = DataRef(str(EXAMPLES / "regression.csv"), label_column="score", max_length=32, train_samples=48,
                  validation_samples=12, test_samples=16)
    task = prepare_task(ref, load_tokenizer("tiny"), "regression")
    state = load_model("tiny", 1, task="regression")
    ctx = method_context(tmp_path, task, state)
    apply_method("evaluate", state, ctx, split="test")
    assert {"test/pearson", "test/spearman", "test/mse", "test/loss"} <= set(ctx.seen)
    assert "test/accuracy" not in ctx.seen
