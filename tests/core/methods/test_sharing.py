import copy

import pytest
import torch

from core.errors import StudioError
from core.methods.sharing.layers import ShareLayersSettings, shared_groups, share_layers, tie_layers
from core.models.architecture import count_parameters, encoder_of, serialized_size
from core.recipe import Step
from tests.conftest import tiny_recipe
from tests.core.methods.test_distillation_support import fixed_batch, layer_params, make_ctx, tiny_bert


def _query(model, i):
    return encoder_of(model).layer[i].attention.self.query.weight


def test_pairs_share_storage_and_shrink_count_and_file(tmp_path, tiny_task):
    state = tiny_bert(layers=4)
    original = copy.deepcopy(state.model)
    per_layer = layer_params(state.model)
    count, size = count_parameters(state.model), serialized_size(state.model)
    ctx = make_ctx(tmp_path, tiny_task, state)
    out = share_layers(state, ShareLayersSettings(group_size=2, recover=False), ctx)
    model = out.model
    assert _query(model, 0).data_ptr() == _query(model, 1).data_ptr()
    assert _query(model, 2).data_ptr() == _query(model, 3).data_ptr()
    assert _query(model, 1).data_ptr() != _query(model, 2).data_ptr()
    assert out.extras["shared_layers"] == [[0, 1], [2, 3]]
    assert count_parameters(model) == count - 2 * per_layer
    saved = serialized_size(model)
    # the float32 bytes of two layers, plus torch.save's per-record zip overhead for their tensors
    records = 2 * len(encoder_of(model).layer[0].state_dict())
    assert 2 * per_layer * 4 <= size - saved <= 2 * per_layer * 4 + records * 512
    expected = (_query(original, 2) + _query(original, 3)) / 2
    assert torch.allclose(_query(model, 3), expected, atol=1e-7)


def test_all_layers_share_one_set(tmp_path, tiny_task):
    state = tiny_bert(layers=4)
    count, per_layer = count_parameters(state.model), layer_params(state.model)
    out = share_layers(state, ShareLayersSettings(group_size=0, recover=False), make_ctx(tmp_path, tiny_task, state))
    assert shared_groups(out.model) == [[0, 1, 2, 3]]
    assert count_parameters(out.model) == count - 3 * per_layer


def test_groups_of_one_reproduce_the_outputs(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    with torch.no_grad():
        before = state.model(**batch).logits
    out = share_layers(state, ShareLayersSettings(group_size=1, recover=False), make_ctx(tmp_path, tiny_task, state))
    with torch.no_grad():
        after = out.model(**batch).logits
    assert torch.equal(before, after)
    assert out.extras["shared_layers"] == []


def test_sharing_survives_recovery_training_and_safetensors(tmp_path, tiny_task):
    from safetensors.torch import load_model, save_model

    state = tiny_bert(layers=2)
    unshared = tmp_path / "unshared.safetensors"
    save_model(state.model, str(unshared))
    cfg = ShareLayersSettings(group_size=2, recover=True, max_steps=2, batch_size=8, eval_samples=8)
    out = share_layers(state, cfg, make_ctx(tmp_path, tiny_task, state))
    assert _query(out.model, 0).data_ptr() == _query(out.model, 1).data_ptr()
    shared = tmp_path / "shared.safetensors"
    save_model(out.model, str(shared))
    assert shared.stat().st_size < unshared.stat().st_size - 0.9 * layer_params(out.model) * 4
    # an export reloads into a fresh model and ties the recorded groups again
    fresh = tiny_bert(layers=2, seed=5).model
    tie_layers(fresh, out.extras["shared_layers"], average=False)
    load_model(fresh, str(shared))
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    out.model.eval()
    with torch.no_grad():
        assert torch.allclose(fresh(**batch).logits, out.model(**batch).logits, atol=1e-6)


def test_masks_merge_into_the_shared_layer(tmp_path, tiny_task):
    from core.methods.pruning.magnitude import MagnitudePruneSettings, prune_magnitude

    state = tiny_bert(layers=2)
    ctx = make_ctx(tmp_path, tiny_task, state)
    pruned = prune_magnitude(state, MagnitudePruneSettings(sparsity=0.5), ctx)
    out = share_layers(pruned, ShareLayersSettings(group_size=2, recover=False), ctx)
    names = set(out.masks)
    assert any(".layer.0." in n for n in names) and not any(".layer.1." in n for n in names)
    q = _query(out.model, 0)
    mask = out.masks["bert.encoder.layer.0.attention.self.query.weight"]
    assert bool((q[~mask] == 0).all())


def test_layers_of_different_shapes_cannot_share(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    layer = encoder_of(state.model).layer[1]
    layer.intermediate.dense = torch.nn.Linear(32, 16)
    layer.output.dense = torch.nn.Linear(16, 32)
    with pytest.raises(StudioError, match="different shapes"):
        share_layers(state, ShareLayersSettings(recover=False), make_ctx(tmp_path, tiny_task, state))


def test_sharing_in_a_recipe(engine, tiny_task):
    recipe = tiny_recipe(Step("share.layers", {"group_size": 2, "max_steps": 1, "batch_size": 16}))
    result = engine.run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    assert result.results["parameters"] == result.results["baseline_parameters"] - layer_params(result.state.model)
