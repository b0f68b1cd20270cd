"""SVD factorization: the custom modules and the registered methods."""

import pytest
import torch
import torch.nn as nn

from core import events as ev
from core.methods.factorization.modules import FactorizedEmbedding, LowRankLinear
from core.models.architecture import count_parameters, encoder_of, layer_shapes
from core.models.custom import is_custom, module_class
from core.models.surgery import head_counts, keep_ffn, keep_heads
from core.recipe import Step
from tests.conftest import apply_method as run, method_context as make_ctx, tiny_recipe

VOCAB, HIDDEN, FFN = 30522, 32, 64




def logits(model, task):
    b = next(iter(task.loader("validation", 8)))
    b.pop("labels")
    with torch.no_grad():
        return model.eval()(**b).logits


def test_low_rank_linear_at_full_rank_is_exact_and_rebuilds_from_spec():
    torch.manual_seed(0)
    linear = nn.Linear(24, 16)
    x = torch.randn(5, 24)
    low = LowRankLinear.from_linear(linear, 16)
    assert torch.allclose(low(x), linear(x), atol=1e-5)
    assert (low.in_features, low.out_features, low.rank) == (24, 16, 16)
    again = module_class("LowRankLinear").from_spec(low.module_spec())
    again.load_state_dict(low.state_dict())
    assert is_custom(again) and torch.equal(again(x), low(x))


def test_factorized_embedding_at_full_size_is_exact_and_rebuilds_from_spec(tiny_state, tiny_task):
    ref = logits(tiny_state.model, tiny_task)
    emb = tiny_state.model.bert.embeddings
    emb.word_embeddings = FactorizedEmbedding.from_embedding(emb.word_embeddings, HIDDEN)
    assert torch.allclose(logits(tiny_state.model, tiny_task), ref, atol=1e-4)
    again = module_class("FactorizedEmbedding").from_spec(emb.word_embeddings.module_spec())
    again.load_state_dict(emb.word_embeddings.state_dict())
    ids = torch.tensor([[101, 2023, 102]])
    assert torch.equal(again(ids), emb.word_embeddings(ids))


def test_factorize_embeddings_shrinks_by_exact_amount(tiny_state, tiny_task, tmp_path):
    before = count_parameters(tiny_state.model)
    out = run("factorize.embeddings", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), embedding_size=8)
    assert isinstance(out.model.bert.embeddings.word_embeddings, FactorizedEmbedding)
    assert count_parameters(out.model) == before - VOCAB * HIDDEN + (VOCAB * 8 + 8 * HIDDEN)
    assert logits(out.model, tiny_task).shape == (8, 2)


def test_factorize_linear_at_full_rank_changes_nothing(tiny_state, tiny_task, tmp_path):
    ref, n = logits(tiny_state.model, tiny_task), count_parameters(tiny_state.model)
    out = run("factorize.linear", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), targets="both", ratio=1.0)
    assert count_parameters(out.model) == n  # the factors would be larger, so nothing is replaced
    assert torch.allclose(logits(out.model, tiny_task), ref, atol=1e-6)


def test_factorize_ffn_by_ratio_shrinks_by_exact_amount(tiny_state, tiny_task, tmp_path):
    before = count_parameters(tiny_state.model)
    out = run("factorize.linear", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), targets="ffn", ratio=0.25)
    rank = 8  # a quarter of min(32, 64)
    per_linear = HIDDEN * FFN - rank * (HIDDEN + FFN)
    assert count_parameters(out.model) == before - 4 * per_linear
    layer = encoder_of(out.model).layer[0]
    assert isinstance(layer.intermediate.dense, LowRankLinear) and layer.intermediate.dense.rank == rank
    assert isinstance(layer.attention.self.query, nn.Linear)
    assert layer_shapes(out.model) == [{"heads": 4, "head_size": 8, "ffn": FFN}] * 2


def test_energy_rank_keeps_the_requested_share(tiny_state, tiny_task, tmp_path):
    linear = encoder_of(tiny_state.model).layer[0].intermediate.dense
    s = torch.linalg.svdvals(linear.weight.detach())
    share = (s ** 2).cumsum(0) / (s ** 2).sum()
    expected = int((share < 0.5).sum()) + 1
    out = run("factorize.linear", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), targets="ffn",
              rank_by="energy", energy=0.5)
    assert encoder_of(out.model).layer[0].intermediate.dense.rank == expected


def test_global_scope_ranks_differ_per_matrix_and_stay_smaller(tiny_state, tiny_task, tmp_path):
    before = count_parameters(tiny_state.model)
    out = run("factorize.linear", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), targets="both",
              scope="global", rank_by="energy", energy=0.6)
    assert count_parameters(out.model) < before
    assert any(isinstance(m, LowRankLinear) for m in out.model.modules())


def test_structured_pruning_slices_low_rank_layers_too(tiny_state, tiny_task, tmp_path):
    out = run("factorize.linear", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), targets="both", ratio=0.25)
    model = out.model.eval()
    keep_heads(model, {0: [0, 3]})
    keep_ffn(model, {1: range(40)})
    assert head_counts(model) == [2, 4]
    assert [s["ffn"] for s in layer_shapes(model)] == [64, 40]
    assert logits(model, tiny_task).shape == (8, 2)


def test_recovery_fine_tuning_trains_the_factors(tiny_state, tiny_task, tmp_path):
    import copy

    original = copy.deepcopy(encoder_of(tiny_state.model).layer[0].intermediate.dense)
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    losses = []
    ctx.bus.subscribe(ev.Metric, lambda e: losses.append(e.value), lambda e: e.key == "recovery/loss")
    out = run("factorize.linear", tiny_state, ctx, targets="ffn", ratio=0.25, recovery_epochs=0.125,
              recovery_batch_size=16)
    layer = encoder_of(out.model).layer[0].intermediate.dense
    untrained = LowRankLinear.from_linear(original, 8)
    assert len(losses) == 1  # 128 sentences / 16 per batch * 0.125 epochs
    assert not torch.equal(layer.first.weight, untrained.first.weight)


@pytest.mark.parametrize("method, settings, field", [
    ("factorize.linear", {"targets": "everything"}, "targets"),
    ("factorize.linear", {"ratio": 0}, "ratio"),
    ("factorize.linear", {"energy": 1.5}, "energy"),
    ("factorize.embeddings", {"embedding_size": 0}, "embedding_size"),
])
def test_invalid_settings_name_the_field(method, settings, field):
    problems = tiny_recipe(Step(method, settings)).problems()
    assert problems and any(f"field '{field}'" in str(p) for p in problems), problems


def test_factorized_model_quantizes_and_still_reports_its_shapes(tiny_state, tiny_task, tmp_path):
    from core.methods.quantization.dynamic import quantize_dynamic_int8

    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    out = run("factorize.linear", tiny_state, ctx, targets="both", ratio=0.25)
    out = run("factorize.embeddings", out, ctx, embedding_size=8)
    ref = logits(out.model, tiny_task)
    model = quantize_dynamic_int8(out.model)
    assert layer_shapes(model) == [{"heads": 4, "head_size": 8, "ffn": FFN}] * 2
    assert torch.allclose(logits(model, tiny_task), ref, atol=0.1)  # int8 error only
