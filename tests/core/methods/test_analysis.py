"""analyze.sensitivity: scores per head and layer, stored, emitted and written to a file."""

import json
from pathlib import Path

import torch

from core import events as ev
from core.applicability import apply_step
from core.methods.pruning.ablation import head_ablation
from core.metrics.accuracy import evaluate_accuracy
from core.models.surgery import keep_heads
from core.registry import build_config, get_method
from tests.conftest import method_context as make_ctx



def test_sensitivity_stores_emits_and_writes_scores(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    ctx.step_index = 0
    spec = get_method("analyze.sensitivity")
    cfg, _ = build_config(spec.config_cls, {"measure": "both", "batches": 2, "batch_size": 8, "eval_samples": 32})
    before = {k: v.clone() for k, v in tiny_state.model.state_dict().items()}
    out = apply_step(spec, tiny_state, cfg, ctx)
    sens = out.extras["sensitivity"]
    assert sens["metric"] == "gradient" and [len(r) for r in sens["heads"]] == [4, 4] and len(sens["layers"]) == 2
    assert all(v > 0 for row in sens["heads_gradient"] for v in row)
    assert [len(r) for r in sens["heads_accuracy_drop"]] == [4, 4] and len(sens["layers_accuracy_drop"]) == 2
    # the model is measured, never changed
    assert all(torch.equal(before[k], v) for k, v in out.model.state_dict().items())
    checkpoint = next(e for e in ctx.events if isinstance(e, ev.Checkpoint))
    assert checkpoint.kind == "sensitivity" and json.loads(Path(checkpoint.path).read_text()) == sens
    assert not [e for e in ctx.events if isinstance(e, ev.MaskUpdate)]  # it removes nothing
    heads = [e for e in ctx.events if isinstance(e, ev.ImportanceUpdate) and e.kind == "heads"]
    assert heads and heads[0].metric == "gradient" and heads[0].levels == (0.0, 1.0)
    assert max(max(r) for r in heads[0].scores) == 1.0 and min(min(r) for r in heads[0].scores) >= 0.0


def test_accuracy_with_a_head_switched_off_matches_the_pruned_model(tiny_state, tiny_task):
    model = tiny_state.model

    def make_loader():
        return tiny_task.loader("validation", 32, limit=32)

    ablated = head_ablation(model, make_loader)
    keep_heads(model, {1: [0, 1, 3]})
    pruned = evaluate_accuracy(model, make_loader())
    acc, loss = ablated[1][2]
    assert acc == pruned["accuracy"] and abs(loss - pruned["loss"]) < 1e-5
