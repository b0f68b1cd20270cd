"""The registered structured-pruning methods, called through a real RunContext."""

import pytest
import torch

from core import events as ev
from core.models.architecture import count_parameters, encoder_of
from core.models.surgery import ffn_widths, head_counts
from core.recipe import Step
from tests.conftest import apply_method as run, method_context as make_ctx, tiny_recipe

HIDDEN, HEAD = 32, 8
PER_HEAD = 3 * (HIDDEN * HEAD + HEAD) + HIDDEN * HEAD
PER_NEURON = 2 * HIDDEN + 1




def masks_of(ctx, kind):
    return [e.mask for e in ctx.events if isinstance(e, ev.MaskUpdate) and e.kind == kind]


def logits(model, task):
    b = next(iter(task.loader("validation", 8)))
    b.pop("labels")
    with torch.no_grad():
        return model.eval()(**b).logits


def test_prune_heads_iteratively_removes_the_target_count(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    before = count_parameters(tiny_state.model)
    out = run("prune.heads", tiny_state, ctx, amount=0.5, rounds=2, batches=2, batch_size=8)
    assert sum(head_counts(out.model)) == 4 and min(head_counts(out.model)) >= 1
    assert count_parameters(out.model) == before - 4 * PER_HEAD
    rounds = masks_of(ctx, "heads")
    assert len(rounds) == 2 and sum(map(sum, rounds[0])) == 6 and sum(map(sum, rounds[1])) == 4
    # a head removed in round one stays removed in the report of round two
    assert all(b <= a for ra, rb in zip(*rounds) for a, b in zip(ra, rb))


def test_prune_heads_nothing_reproduces_outputs(tiny_state, tiny_task, tmp_path):
    ref = logits(tiny_state.model, tiny_task)
    out = run("prune.heads", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), count=0, batches=1)
    assert head_counts(out.model) == [4, 4]
    assert torch.allclose(logits(out.model, tiny_task), ref, atol=1e-6)


def test_prune_heads_follows_stored_sensitivity(tiny_state, tiny_task, tmp_path):
    query0 = encoder_of(tiny_state.model).layer[0].attention.self.query.weight.detach().clone()
    tiny_state.extras["sensitivity"] = {"heads": [[0.9, 0.1, 0.8, 0.7], [0.5, 0.6, 0.05, 0.4]],
                                        "layers": [1.0, 2.0], "metric": "accuracy_drop"}
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    out = run("prune.heads", tiny_state, ctx, count=2, importance_source="sensitivity", normalize=False)
    assert head_counts(out.model) == [3, 3]
    assert masks_of(ctx, "heads")[-1] == ((1.0, 0.0, 1.0, 1.0), (1.0, 1.0, 0.0, 1.0))
    kept = encoder_of(out.model).layer[0].attention.self.query.weight
    assert torch.equal(kept, torch.cat([query0[0:8], query0[16:32]]))
    # the scores follow the cut, so a later step still lines them up with the heads
    assert out.extras["sensitivity"]["heads"] == [[0.9, 0.8, 0.7], [0.5, 0.6, 0.4]]


def test_prune_ffn_global_and_per_layer(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    before = count_parameters(tiny_state.model)
    out = run("prune.ffn", tiny_state, ctx, amount=0.25, scope="global", batches=2, batch_size=8)
    assert sum(ffn_widths(out.model)) == 96
    assert count_parameters(out.model) == before - 32 * PER_NEURON
    assert len(masks_of(ctx, "ffn")[0][0]) == 64
    widths = ffn_widths(out.model)
    out = run("prune.ffn", out, ctx, amount=0.5, scope="per_layer", importance="magnitude")
    assert ffn_widths(out.model) == [w - round(0.5 * w) for w in widths]


def test_prune_ffn_uniform_sets_config(tiny_state, tiny_task, tmp_path):
    out = run("prune.ffn", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), amount=0.5, importance="magnitude")
    assert ffn_widths(out.model) == [32, 32] and out.model.config.intermediate_size == 32


@pytest.mark.parametrize("settings, kept", [
    ({"strategy": "every_other"}, [0, 2]),
    ({"strategy": "every_other", "start": 1}, [1, 3]),
    ({"strategy": "first_k", "keep": 3}, [0, 1, 2]),
    ({"strategy": "list", "layers": "3, 0"}, [0, 3]),
    ({"strategy": "least_important", "keep": 2, "importance_source": "sensitivity"}, [1, 2]),
])
def test_prune_layers_keeps_the_right_ones(tiny_task, tmp_path, settings, kept):
    from transformers import BertForSequenceClassification

    from core.models.loading import tiny_config
    from core.models.state import ModelState

    torch.manual_seed(0)
    state = ModelState(BertForSequenceClassification(tiny_config(2, num_hidden_layers=4)), None)
    state.extras["sensitivity"] = {"layers": [0.1, 0.9, 0.5, 0.2], "heads": [[1.0] * 4] * 4}
    original = list(encoder_of(state.model).layer)
    out = run("prune.layers", state, make_ctx(tmp_path, tiny_task, state), **settings)
    assert list(encoder_of(out.model).layer) == [original[i] for i in kept]
    assert out.model.config.num_hidden_layers == len(kept)
    assert len(out.extras["sensitivity"]["heads"]) == len(kept)


def test_prune_layers_by_validation_runs(tiny_state, tiny_task, tmp_path):
    out = run("prune.layers", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state),
              strategy="least_important", keep=1, eval_samples=32)
    assert len(encoder_of(out.model).layer) == 1


def test_gradual_magnitude_reaches_final_sparsity_and_masks_survive_finetune(tiny_state, tiny_task, tmp_path):
    from core.methods.pruning.masks import sparsity

    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    out = run("prune.gradual_magnitude", tiny_state, ctx, final_sparsity=0.6, max_steps=4, batch_size=16,
              prune_every=1, end_share=0.75)
    targets = [e.value for e in ctx.events if isinstance(e, ev.Metric) and e.key == "prune/target_sparsity"]
    assert targets == sorted(targets) and len(targets) >= 3 and targets[-1] == pytest.approx(0.6)
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.01)
    masks = out.masks
    out = run("finetune", out, ctx, max_steps=1, batch_size=16)
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.01)
    params = dict(out.model.named_parameters())
    assert all(bool((params[n][~m] == 0).all()) for n, m in masks.items())


def test_layerdrop_trains_and_restores_every_layer(tiny_state, tiny_task, tmp_path):
    layers = list(encoder_of(tiny_state.model).layer)
    w = layers[1].output.dense.weight.detach().clone()
    out = run("train.layerdrop", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), rate=0.5, max_steps=3,
              batch_size=16)
    assert list(encoder_of(out.model).layer) == layers
    assert not torch.equal(layers[1].output.dense.weight, w)


@pytest.mark.parametrize("method, settings, field", [
    ("prune.heads", {"amount": 1.5}, "amount"),
    ("prune.heads", {"importance_source": "magic"}, "importance_source"),
    ("prune.ffn", {"scope": "everywhere"}, "scope"),
    ("prune.layers", {"strategy": "list", "layers": []}, "layers"),
    ("prune.layers", {"strategy": "list", "layers": [1, 1]}, "layers"),
    ("prune.gradual_magnitude", {"initial_sparsity": 0.5, "final_sparsity": 0.2}, "final_sparsity"),
    ("prune.gradual_magnitude", {"start_share": 0.5, "end_share": 0.4}, "end_share"),
    ("train.layerdrop", {"rate": 0.95}, "rate"),
])
def test_invalid_settings_name_the_field(method, settings, field):
    problems = tiny_recipe(Step(method, settings)).problems()
    assert problems and any(f"field '{field}'" in str(p) for p in problems), problems
