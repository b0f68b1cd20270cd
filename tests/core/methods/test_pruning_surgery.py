"""Physical removal of heads, FFN neurons and layers (core.models.surgery) and the head gate that mimics it."""

import torch

from core.methods.pruning.importance import head_gates, ones_head_gates
from core.methods.pruning.magnitude import magnitude_masks
from core.methods.pruning.masks import apply_masks, prunable_weights
from core.models.architecture import count_parameters, encoder_of, layer_shapes
from core.models.surgery import ffn_widths, head_counts, keep_ffn, keep_heads, keep_layers, reconcile_masks

HIDDEN, HEAD = 32, 8  # the tiny model: 4 heads of size 8
PER_HEAD = 3 * (HIDDEN * HEAD + HEAD) + HIDDEN * HEAD  # Q/K/V rows with bias + attention-output columns
PER_NEURON = (HIDDEN + 1) + HIDDEN  # intermediate row with bias + output column


def batch(task, n=8):
    b = next(iter(task.loader("validation", n)))
    b.pop("labels")
    return b


def logits(model, b):
    with torch.no_grad():
        return model.eval()(**b).logits


def test_removing_heads_shrinks_by_exact_amount_with_uneven_layers(tiny_state):
    model = tiny_state.model
    before = count_parameters(model)
    keep_heads(model, {0: [0, 2, 3], 1: [1]})
    assert head_counts(model) == [3, 1]
    assert count_parameters(model) == before - 4 * PER_HEAD
    att = encoder_of(model).layer[1].attention
    assert att.self.query.weight.shape == (HEAD, HIDDEN) and att.output.dense.weight.shape == (HIDDEN, HEAD)
    assert (att.self.num_attention_heads, att.self.all_head_size) == (1, HEAD)
    assert [s["heads"] for s in layer_shapes(model)] == [3, 1]


def test_gating_a_head_equals_removing_it(tiny_state, tiny_task):
    model, b = tiny_state.model.eval(), batch(tiny_task)
    gates = ones_head_gates(model)
    gates[0][1] = 0.0
    gates[1][0] = gates[1][3] = 0.0
    with torch.no_grad(), head_gates(model, gates):
        gated = model(**b).logits
    ungated = logits(model, b)
    keep_heads(model, {0: [0, 2, 3], 1: [1, 2]})
    pruned = logits(model, b)
    assert not torch.allclose(gated, ungated, atol=1e-4)  # the gate really changed something
    assert torch.allclose(gated, pruned, atol=1e-5)


def test_keeping_everything_changes_nothing(tiny_state, tiny_task):
    model, b = tiny_state.model, batch(tiny_task)
    ref, n = logits(model, b), count_parameters(model)
    keep_heads(model, {0: range(4), 1: range(4)})
    keep_ffn(model, {0: range(64), 1: range(64)})
    keep_layers(model, [0, 1])
    assert count_parameters(model) == n
    assert torch.allclose(logits(model, b), ref, atol=1e-6)


def test_ffn_neurons_removed_physically_uniform_sets_config(tiny_state):
    model = tiny_state.model
    before = count_parameters(model)
    keep_ffn(model, {0: range(0, 64, 2), 1: range(10)})
    assert ffn_widths(model) == [32, 10]
    assert count_parameters(model) == before - (32 + 54) * PER_NEURON
    assert model.config.intermediate_size == 64  # widths differ: config left as it was
    keep_ffn(model, {0: range(10)})
    assert model.config.intermediate_size == 10


def test_kept_layers_are_the_listed_ones(tiny_state):
    from transformers import BertForSequenceClassification

    from core.models.loading import tiny_config

    model = BertForSequenceClassification(tiny_config(2, num_hidden_layers=4))
    layers = list(encoder_of(model).layer)
    keep_layers(model, [3, 1])
    assert list(encoder_of(model).layer) == [layers[1], layers[3]]
    assert model.config.num_hidden_layers == 2


def test_unstructured_masks_are_sliced_with_the_weights(tiny_state):
    model = tiny_state.model
    masks = magnitude_masks(prunable_weights(model), 0.5, "per_layer")
    apply_masks(model, masks)
    masks = keep_heads(model, {0: [1, 3]}, masks)
    masks = keep_ffn(model, {1: range(20)}, masks)
    masks = keep_layers(model, [1], masks)
    kept, dropped = reconcile_masks(model, masks)
    assert dropped == [] and len(kept) == 6  # the six linears of the one layer left
    params = dict(model.named_parameters())
    for name, mask in kept.items():
        # every weight still marked pruned is still zero: the mask followed its rows and columns
        assert params[name].shape == mask.shape
        assert bool((params[name][~mask] == 0).all()), name


def test_stale_masks_are_dropped_not_misapplied(tiny_state):
    model = tiny_state.model
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    masks = {name: torch.ones(3, 3, dtype=torch.bool)}
    kept, dropped = reconcile_masks(model, masks)
    assert kept == {} and dropped == [name]


def test_a_pruned_model_rebuilds_from_config_and_recorded_shapes(tiny_state, tiny_task):
    from transformers import BertForSequenceClassification

    from core.models.surgery import apply_layer_shapes

    model, b = tiny_state.model, batch(tiny_task)
    keep_heads(model, {0: [1], 1: [0, 2, 3]})
    keep_ffn(model, {0: range(7), 1: range(50)})
    shapes = layer_shapes(model)
    fresh = BertForSequenceClassification(model.config)
    apply_layer_shapes(fresh, shapes)
    fresh.load_state_dict(model.state_dict(), strict=True)
    assert torch.allclose(logits(fresh, b), logits(model, b), atol=1e-6)
