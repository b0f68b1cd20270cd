"""Movement pruning (prune.movement): scores, block masks that equal removal, the method, stacking and export."""

import copy

import pytest
import torch
import torch.nn as nn

from core import events as ev
from core.models.adapters import FamilyRefusal
from core.models.architecture import count_parameters, layer_shapes
from core.models.surgery import ffn_widths, head_counts, keep_ffn, keep_heads
from core.methods.pruning.movement_scores import BlockScores, WeightScores, topk_masks
from core.recipe import Step
from core.registry import get_method
from tests.conftest import apply_method as run, method_context as make_ctx, tiny_recipe
from tests.core.methods.families import family_state, family_task, one_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HIDDEN, HEAD = 32, 8
PER_HEAD = 3 * (HIDDEN * HEAD + HEAD) + HIDDEN * HEAD  # q/k/v rows with bias, output columns
PER_NEURON = 2 * HIDDEN + 1  # input row with bias, output column
FAST = dict(max_steps=6, batch_size=16, prune_every=1, start_share=0.0, end_share=0.5)


def logits(model, batch):
    batch = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        return model.eval()(**batch).logits


def last_hidden(model, batch):
    batch = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        return model.eval()(**batch, output_hidden_states=True).hidden_states[-1]


# -- scores --------------------------------------------------------------------------------------------------------
def test_a_large_weight_moving_toward_zero_is_pruned_where_magnitude_keeps_it():
    model = nn.Sequential(nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[3.0, 0.1]]))
    weights = {"0.weight": model[0].weight}
    movement = WeightScores(weights, "movement")
    for _ in range(3):
        model.zero_grad()
        # dL/dw = [+1, -1]: gradient descent shrinks the large weight and grows the small one
        model(torch.tensor([[1.0, -1.0]])).sum().backward()
        movement.accumulate(model)
    torch.testing.assert_close(movement.current(model)["0.weight"], torch.tensor([[-9.0, 0.3]]))
    by_movement = topk_masks(movement.current(model), 0.5, "per_layer")["0.weight"]
    by_magnitude = topk_masks(WeightScores(weights, "magnitude").current(model), 0.5, "per_layer")["0.weight"]
    assert by_movement.tolist() == [[0.0, 1.0]]
    assert by_magnitude.tolist() == [[1.0, 0.0]]


def test_an_overflowing_backward_pass_is_left_out_of_the_scores():
    model = nn.Sequential(nn.Linear(2, 1, bias=False))
    scores = WeightScores({"0.weight": model[0].weight}, "movement")
    model[0].weight.grad = torch.tensor([[float("inf"), 1.0]])
    scores.accumulate(model)
    assert scores.skipped == 1 and bool((scores.current(model)["0.weight"] == 0).all())
    model[0].weight.grad = torch.ones(1, 2)
    scores.accumulate(model)
    torch.testing.assert_close(scores.current(model)["0.weight"], -model[0].weight.detach())


def test_topk_masks_only_grow_and_hit_the_share_exactly():
    scores = {"a": torch.arange(10.0).view(2, 5), "b": -torch.arange(6.0)}
    first = topk_masks(scores, 0.25, "global")
    assert sum(int((m == 0).sum()) for m in first.values()) == 4  # round(0.25 * 16)
    flipped = {k: -v for k, v in scores.items()}  # the ranking turns over, yet what went stays gone
    second = topk_masks(flipped, 0.5, "global", current=first)
    assert sum(int((m == 0).sum()) for m in second.values()) == 8
    assert all(bool((second[k][first[k] == 0] == 0).all()) for k in first)


def test_block_scores_sum_movement_per_head_and_prune_the_one_moving_to_zero(tiny_state):
    model = tiny_state.model
    att = model.bert.encoder.layer[0].attention
    with torch.no_grad():
        att.self.query.weight[:HEAD].mul_(20.0)  # head 0 of layer 0 is by far the largest
    blocks = BlockScores(model, heads=True, ffn=False, score="movement")
    for p in model.parameters():
        p.grad = -1e-3 * p.detach().clone()  # every weight grows a little...
    att.self.query.weight.grad[:HEAD] = att.self.query.weight.detach()[:HEAD]  # ...but head 0 shrinks
    blocks.accumulate(model)
    blocks.select(model, "heads", 1)
    assert blocks.kept("heads") == {0: [1, 2, 3], 1: [0, 1, 2, 3]}
    magnitude = BlockScores(model, heads=True, ffn=False, score="magnitude")
    magnitude.select(model, "heads", 1)
    assert 0 in magnitude.kept("heads")[0]  # magnitude keeps the big head and removes another


@pytest.mark.parametrize("family", ["bert", "distilbert", "albert", "deberta-v2", "modernbert"])
def test_block_masks_equal_physical_removal(family, tiny_task):
    """What the model trains with (masked heads / neurons) is what the surgery leaves: same logits."""
    task = family_task(family, tiny_task)
    state = family_state(family, task.tokenizer, seed=1)
    batch = one_batch(task)
    blocks = BlockScores(state.model, heads=True, ffn=True, score="magnitude")
    heads, widths = sum(head_counts(state.model)), sum(ffn_widths(state.model))
    blocks.select(state.model, "heads", heads // 2)
    blocks.select(state.model, "ffn", widths // 3)
    masked = copy.deepcopy(state.model)
    params = dict(masked.named_parameters())
    with torch.no_grad():
        for name, mask in blocks.masks(masked).items():
            params[name].mul_(mask)
    removed = copy.deepcopy(state.model)
    keep_heads(removed, blocks.kept("heads"))
    keep_ffn(removed, blocks.kept("ffn"))
    assert sum(head_counts(removed)) == heads - heads // 2 and sum(ffn_widths(removed)) == widths - widths // 3
    assert count_parameters(removed) < count_parameters(state.model)
    reference = last_hidden(state.model, batch)  # hidden states: a random classifier's logits are nearly flat
    out = last_hidden(removed, batch)
    torch.testing.assert_close(out, last_hidden(masked, batch), atol=1e-5, rtol=1e-4)
    assert float((out - reference).abs().max()) > 1e-3  # something real was removed (100x the tolerance above)


# -- the method ----------------------------------------------------------------------------------------------------
def test_blocks_remove_the_asked_share_physically(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    before = count_parameters(tiny_state.model)
    out = run("prune.movement", tiny_state, ctx, heads_amount=0.5, ffn_amount=0.25, **FAST)
    assert sum(head_counts(out.model)) == 4 and min(head_counts(out.model)) >= 1
    assert sum(ffn_widths(out.model)) == 128 - 32
    assert count_parameters(out.model) == before - 4 * PER_HEAD - 32 * PER_NEURON
    assert ctx.seen["model/parameters"][-1] == count_parameters(out.model)
    for layer, shape in zip(out.model.bert.encoder.layer, layer_shapes(out.model)):
        assert layer.attention.self.num_attention_heads == shape["heads"]
        assert layer.attention.self.query.out_features == shape["heads"] * HEAD == layer.attention.output.dense.in_features
        assert layer.intermediate.dense.out_features == shape["ffn"] == layer.output.dense.in_features
    # the schedule masked more as it went, and the reported masks match what is left
    masked = ctx.seen["prune/masked_heads"]
    assert masked == sorted(masked) and len(set(masked)) >= 2 and masked[-1] == 4
    reported = [e.mask for e in ctx.events if isinstance(e, ev.MaskUpdate) and e.kind == "heads"][-1]
    assert [int(sum(row)) for row in reported] == head_counts(out.model)
    batch = next(iter(tiny_task.loader("validation", 8)))
    assert torch.isfinite(logits(out.model, batch)).all()


def test_blocks_keep_earlier_unstructured_masks(tiny_state, tiny_task, tmp_path):
    from core.methods.pruning.masks import sparsity

    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    pruned = run("prune.magnitude", tiny_state, ctx, sparsity=0.5)
    out = run("prune.movement", pruned, ctx, heads_amount=0.25, ffn_amount=0.0, **FAST)
    params = dict(out.model.named_parameters())
    assert out.masks and all(params[n].shape == m.shape for n, m in out.masks.items())
    assert all(bool((params[n][m == 0] == 0).all()) for n, m in out.masks.items())
    assert sparsity(out.model)["overall"] >= 0.49


def test_weights_reach_the_sparsity_and_masks_survive_finetune(tiny_state, tiny_task, tmp_path):
    from core.methods.pruning.masks import sparsity

    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    before = count_parameters(tiny_state.model)
    out = run("prune.movement", tiny_state, ctx, granularity="weights", final_sparsity=0.6, **FAST)
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.001)
    assert count_parameters(out.model) == before  # unstructured: same shapes, zeros only
    shares = ctx.seen["prune/target_share"]
    assert shares == sorted(shares) and len(shares) >= 3 and shares[-1] == 1.0
    masks = out.masks
    out = run("finetune", out, ctx, max_steps=2, batch_size=16)
    params = dict(out.model.named_parameters())
    assert all(bool((params[n][m == 0] == 0).all()) for n, m in masks.items())
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.001)


def test_movement_and_magnitude_choose_different_weights(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    settings = dict(granularity="weights", final_sparsity=0.5, **FAST)
    a = run("prune.movement", tiny_state.replace(model=copy.deepcopy(tiny_state.model)), ctx, score="movement",
            **settings)
    b = run("prune.movement", tiny_state.replace(model=copy.deepcopy(tiny_state.model)), ctx, score="magnitude",
            **settings)
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    agreement = float((a.masks[name] == b.masks[name]).float().mean())
    assert agreement < 0.75, agreement  # two independent 50% masks would agree on about half


def test_blocks_refuse_what_ffn_pruning_refuses(tiny_task, tmp_path):
    from core.models.adapters import adapter_for

    task = family_task("mobilebert", tiny_task)
    state = family_state("mobilebert", task.tokenizer)
    reason = get_method("prune.ffn").refusal("mobilebert").reason
    original = copy.deepcopy(state.model.state_dict())
    with pytest.raises(FamilyRefusal, match="prune.movement") as err:
        run("prune.movement", state, make_ctx(tmp_path, task, state), heads_amount=0.5, ffn_amount=0.5, **FAST)
    assert reason in str(err.value) and "mobilebert" in str(err.value)
    assert all(torch.equal(original[k], v) for k, v in state.model.state_dict().items())


@pytest.mark.parametrize("settings, field", [
    ({"heads_amount": 1.5}, "heads_amount"),
    ({"granularity": "rows"}, "granularity"),
    ({"start_share": 0.5, "end_share": 0.4}, "end_share"),
    ({"heads_amount": 0.0, "ffn_amount": 0.0}, "heads_amount"),
    ({"granularity": "weights", "final_sparsity": 0.0}, "final_sparsity"),
    ({"scope": "per_layer"}, "scope"),
])
def test_bad_settings_are_refused_naming_the_field(settings, field):
    problems = tiny_recipe(Step("prune.movement", settings)).problems()
    assert problems and any(f"field '{field}'" in str(p) for p in problems), problems


# -- stacking and export -------------------------------------------------------------------------------------------
def test_blocks_then_int8_through_the_engine(engine):
    recipe = tiny_recipe(
        Step("prune.movement", {"heads_amount": 0.25, "ffn_amount": 0.5, **FAST}),
        Step("quant.dynamic_int8"),
    )
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    assert result.results["parameters"] < result.results["baseline_parameters"]
    shapes = layer_shapes(result.state.model)
    assert sum(s["heads"] for s in shapes) == 6 and sum(s["ffn"] for s in shapes) == 64


def test_blocks_pruned_model_exports_and_reloads_with_the_same_logits(tiny_state, tiny_task, tmp_path):
    from core.export.api import export_model, sample_batch
    from core.export import load_export

    out = run("prune.movement", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), heads_amount=0.5,
              ffn_amount=0.5, **FAST)
    report = export_model(out, tmp_path / "hf", "hf", latency_repeats=1)
    assert report.verified and report.parameters == count_parameters(out.model)
    reloaded = load_export(tmp_path / "hf")
    assert layer_shapes(reloaded.model) == layer_shapes(out.model)
    batch = sample_batch(out.tokenizer, max_length=24)
    torch.testing.assert_close(logits(reloaded.model, batch), logits(out.model, batch), atol=1e-6, rtol=1e-5)


def test_block_movement_is_refused_before_the_run_where_head_or_ffn_surgery_is():
    from core.applicability import applicability

    why = applicability("prune.movement", "mobilebert", {})
    assert why and "granularity: blocks" in why and "num_feedforward_networks" in why
    assert "prune.heads" in applicability("prune.movement", "deberta", {"granularity": "blocks"})
    assert applicability("prune.movement", "mobilebert", {"granularity": "weights"}) is None
    assert applicability("prune.movement", "bert", {}) is None
