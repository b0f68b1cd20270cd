"""Reweighted proximal pruning (``prune.rpp``): the proximal operator, the method on the tiny BERT, and stacks."""

import pytest
import torch

from core.methods.pruning.masks import prunable_weights, sparsity
from core.methods.pruning.rpp import RPPSettings, proximal_step, reweight, scheduled_lr
from core.recipe import Step
from tests.conftest import apply_method as run, method_context as make_ctx, tiny_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Four steps at a learning rate the tiny model moves under; no warm-up, so the first step already shrinks.
FAST = {"learning_rate": 1e-3, "warmup_ratio": 0.0, "max_steps": 4, "batch_size": 16, "eval_samples": 16}


def test_proximal_operator_gives_the_exact_soft_threshold():
    w = torch.tensor([0.75, -0.25, 0.05, -0.01, 0.0])
    plain = w.clone()
    proximal_step(plain, 0.1)
    torch.testing.assert_close(plain, torch.tensor([0.65, -0.15, 0.0, 0.0, 0.0]))
    alpha = reweight(w, eps=0.25)  # 1 / (|w| + eps) = 1 / [1.0, 0.5, 0.3, 0.26, 0.25]
    torch.testing.assert_close(alpha, torch.tensor([1.0, 2.0, 1 / 0.3, 1 / 0.26, 4.0]))
    weighted = w.clone()
    proximal_step(weighted, 0.02 * alpha)  # shrinks of 0.02, 0.04, 0.0667, 0.0769, 0.08
    torch.testing.assert_close(weighted, torch.tensor([0.73, -0.21, 0.0, 0.0, 0.0]))


def test_reweighting_shrinks_small_weights_faster_than_large_ones():
    w = torch.tensor([0.8, 0.2, 0.05])
    out = w.clone()
    proximal_step(out, 1e-3 * reweight(w, eps=1e-3))
    lost = w - out
    assert lost[2] > lost[1] > lost[0] > 0  # plain L1 would take the same 1e-3 from each
    assert (lost / w)[2] > 100 * (lost / w)[0]


@pytest.mark.parametrize("warmup_ratio", [0.0, 0.25])
def test_scheduled_lr_is_the_rate_each_optimiser_step_of_the_loop_used(warmup_ratio):
    from transformers import get_linear_schedule_with_warmup

    cfg = RPPSettings(learning_rate=1e-3, warmup_ratio=warmup_ratio)
    total = 12
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)
    used = []
    for _ in range(total):  # the loop's order: optimizer.step(), scheduler.step(), then after_step
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert [scheduled_lr(cfg, step, total) for step in range(1, total + 1)] == pytest.approx(used)


def test_larger_penalty_zeroes_more_weights(tiny_task, tmp_path):
    from core.models.loading import load_model

    found = []
    for penalty in (0.01, 0.05):
        state = load_model("tiny", num_labels=2, seed=0)
        ctx = make_ctx(tmp_path, tiny_task, state)
        out = run("prune.rpp", state, ctx, penalty=penalty, **FAST)
        found.append(sparsity(out.model)["overall"])
        # sparsity climbs step by step while the penalty acts; the masks are exactly the zeros
        per_step = ctx.seen["model/sparsity"]
        assert per_step == sorted(per_step) and per_step[0] > 0
        params = dict(out.model.named_parameters())
        assert set(out.masks) == set(prunable_weights(out.model))
        assert all(torch.equal(m, params[n] != 0) for n, m in out.masks.items())
    assert 0.1 < found[0] < found[1] < 0.95, found


def test_target_sparsity_is_reached_and_kept_through_a_finetune(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    classifier = tiny_state.model.classifier.weight.detach().clone()
    out = run("prune.rpp", tiny_state, ctx, penalty=0.01, target_sparsity=0.6, **FAST)
    penalised = ctx.seen["prune/rpp_sparsity"][-1]
    assert 0 < penalised < 0.6  # the penalty alone zeroed fewer, the top-up by magnitude did the rest
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.001)
    assert (out.model.classifier.weight == 0).sum() == 0  # only the encoder's linears are prunable
    assert not torch.equal(out.model.classifier.weight, classifier)  # it trained
    masks = out.masks
    out = run("finetune", out, ctx, max_steps=2, batch_size=16, learning_rate=1e-3)
    params = dict(out.model.named_parameters())
    assert all(bool((params[n][~m] == 0).all()) for n, m in masks.items())
    assert sparsity(out.model)["overall"] == pytest.approx(0.6, abs=0.001)


def test_earlier_masks_stay_and_embeddings_are_pruned_when_asked(tiny_state, tiny_task, tmp_path):
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    first = run("prune.magnitude", tiny_state, ctx, sparsity=0.3)
    # 0.05: the penalty reaches past the 30 % smallest weights magnitude pruning already took
    out = run("prune.rpp", first, ctx, penalty=0.05, include_embeddings=True, **FAST)
    params = dict(out.model.named_parameters())
    assert all(bool((params[n][~m] == 0).all()) for n, m in first.masks.items())
    words = "bert.embeddings.word_embeddings.weight"
    assert words in out.masks and (params[words] == 0).float().mean() > 0.05
    assert sparsity(out.model)["overall"] > 0.35


def test_engine_stack_keeps_the_zeros_through_finetune_and_int8(engine):
    recipe = tiny_recipe(Step("prune.rpp", {**FAST, "penalty": 0.02, "target_sparsity": 0.5}),
                         Step("finetune", {"max_steps": 2, "batch_size": 16, "learning_rate": 1e-3}),
                         Step("quant.dynamic_int8"))
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    assert result.state.quantized and result.state.masks
    # the int8 weights of the encoder's linears still hold the zeros, after two unmasked-looking steps
    zeros = total = 0
    for name, module in result.state.model.named_modules():
        if "encoder." in name and hasattr(module, "weight") and callable(module.weight):
            q = module.weight().int_repr()
            zeros, total = zeros + int((q == 0).sum()), total + q.numel()
    assert total == sum(m.numel() for m in result.state.masks.values())
    assert zeros / total >= 0.5 - 1e-3


def test_hf_export_reloads_with_the_same_logits_and_zeros(tiny_state, tiny_task, tmp_path):
    from transformers import AutoModelForSequenceClassification

    from core.export.api import export_model, sample_batch
    from tests.core.export.helpers import logits

    out = run("prune.rpp", tiny_state, make_ctx(tmp_path, tiny_task, tiny_state), penalty=0.03, **FAST)
    report = export_model(out, tmp_path / "export", "hf", latency_repeats=1)
    assert report.verified and report.standard
    reloaded = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "export"))
    batch = sample_batch(out.tokenizer, max_length=24)
    torch.testing.assert_close(logits(reloaded, batch), logits(out.model, batch), atol=1e-6, rtol=1e-5)
    assert sparsity(reloaded)["overall"] == pytest.approx(sparsity(out.model)["overall"])
    assert sparsity(reloaded)["overall"] > 0.2


@pytest.mark.parametrize("settings, field, message", [
    ({"penalty": 0.0}, "penalty", "would prune nothing"),
    ({"penalty": -0.1}, "penalty", "must be at least 0"),
    ({"eps": 0.0}, "eps", "must be at least 1e-08"),
    ({"reweight_every": 0}, "reweight_every", "must be at least 1"),
    ({"target_sparsity": 1.5}, "target_sparsity", "must be at most 0.99"),
    ({"lambda": 0.1}, "lambda", "unknown setting"),
])
def test_invalid_settings_are_refused_with_the_field_and_reason(settings, field, message):
    problems = tiny_recipe(Step("prune.rpp", settings)).problems()
    assert any(f"field '{field}'" in str(p) and message in str(p) for p in problems), problems


def test_a_zero_penalty_with_a_target_is_plain_magnitude_pruning_after_training():
    assert not tiny_recipe(Step("prune.rpp", {"penalty": 0.0, "target_sparsity": 0.5})).problems()


def test_quantized_models_are_refused_before_a_run(tiny_state, tiny_task, tmp_path):
    from core.applicability import stack_problems
    from core.models.adapters import FamilyRefusal

    problems = stack_problems([("quant.dynamic_int8", {}), ("prune.rpp", {})], "bert")
    assert [i for i, _ in problems] == [1] and "prune.rpp cannot apply" in problems[0][1]
    ctx = make_ctx(tmp_path, tiny_task, tiny_state)
    frozen = run("quant.dynamic_int8", tiny_state, ctx)
    with pytest.raises(FamilyRefusal, match="prune.rpp cannot apply"):
        run("prune.rpp", frozen, ctx, **FAST)


def test_other_families_take_it(tiny_task, tmp_path):
    from tests.core.methods.families import family_state, family_task

    state = family_state("distilbert", tiny_task.tokenizer)
    task = family_task("distilbert", tiny_task)
    out = run("prune.rpp", state, make_ctx(tmp_path, task, state), penalty=0.03, **FAST)
    assert sparsity(out.model)["overall"] > 0.2
    assert all(n.startswith("distilbert.transformer.layer.") for n in out.masks)
