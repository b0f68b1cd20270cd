"""Family x method matrix on tiny random models of every encoder family the studio loads.

Each method either applies (parameters drop where it is structural, the model
still runs and its logits stay finite) or is refused, before it touches the
model, with the family and the reason. Removing heads gives the outputs of
masking the same heads to zero.
"""

from __future__ import annotations

import copy

import pytest
import torch

from core.applicability import applicability, stack_problems
from core.models.adapters import FamilyRefusal, adapter_for
from core.models.architecture import count_parameters
from core.models.surgery import ffn_widths, head_counts
from tests.conftest import apply_method, method_context
from tests.core.methods.families import FAMILIES, family_state, family_task, one_batch

# What each structural method must do, and the settings that keep it to one scoring batch.
CASES = {
    "prune.heads": dict(amount=0.5, batches=1, batch_size=8),
    "prune.ffn": dict(amount=0.5, importance="taylor", batches=1, batch_size=8),
    "prune.layers": dict(strategy="first_k", keep=1),
    "factorize.linear": dict(targets="both", ratio=0.25),
    "factorize.embeddings": dict(embedding_size=8),
    "distill.student_init": dict(mode="layers", keep_layers=[0]),
    "share.layers": dict(recover=False),
}
# Refused on purpose; each reason is asserted to be in the message.
REFUSED = {
    ("albert", "prune.layers"): "one set of layer weights",
    ("albert", "share.layers"): "share their weights already",
    ("albert", "factorize.embeddings"): "factorized already",
    ("albert", "distill.student_init"): "mode: config",
    ("albert", "train.layerdrop"): "one set of layer weights",
    ("deberta", "prune.heads"): "in_proj",
    ("modernbert", "share.layers"): "alternate local",
    ("mobilebert", "prune.ffn"): "num_feedforward_networks",
    ("mobilebert", "factorize.linear"): "bottleneck",
    ("mobilebert", "factorize.embeddings"): "factorized already",
    ("mobilebert", "share.layers"): "bottleneck",
}


@pytest.fixture(scope="module")
def models(tiny_task):
    """One random model per family, built once (tests work on copies)."""
    return {f: family_state(f, tiny_task.tokenizer) for f in FAMILIES}


def _finite_logits(model, task) -> torch.Tensor:
    batch = {k: v for k, v in one_batch(task).items() if k != "labels"}
    with torch.no_grad():
        logits = model.eval()(**batch).logits
    assert torch.isfinite(logits).all()
    return logits


def _check_effect(method: str, before, after, start) -> None:
    b, a = count_parameters(before.model), count_parameters(after.model)
    if method == "prune.heads":
        total = sum(head_counts(before.model))
        assert sum(head_counts(after.model)) == total - min(round(0.5 * total), total - len(head_counts(before.model)))
    elif method == "prune.ffn":
        assert ffn_widths(after.model) == [w - round(0.5 * w) for w in ffn_widths(before.model)]
    elif method == "prune.layers":
        assert adapter_for(after.model).depth(after.model) == 1
    assert a < b, f"{method}: {b:,} -> {a:,} parameters"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", sorted(CASES))
def test_structural_method(family, method, models, tiny_task, tmp_path):
    task = family_task(family, tiny_task)
    state = models[family].replace(model=copy.deepcopy(models[family].model))
    ctx = method_context(tmp_path, task, state)
    reason = applicability(method, family, CASES[method])
    if (family, method) in REFUSED:
        assert reason is not None and family in reason and REFUSED[family, method] in reason
        original = copy.deepcopy(state.model.state_dict())
        with pytest.raises(FamilyRefusal, match=REFUSED[family, method]) as err:
            apply_method(method, state, ctx, **CASES[method])
        assert family in str(err.value)
        assert all(torch.equal(original[k], v) for k, v in state.model.state_dict().items())  # refused before touching
        return
    assert reason is None
    before = state.replace(model=copy.deepcopy(state.model))
    out = apply_method(method, state, ctx, **CASES[method])
    _check_effect(method, before, out, state)
    _finite_logits(out.model, task)


# one family per way of naming the layer list (encoder.layer, transformer.layer, ALBERT's groups, layers)
@pytest.mark.parametrize("family", ["bert", "distilbert", "albert", "modernbert"])
def test_magnitude_pruning_reaches_every_layer(family, models, tiny_task, tmp_path):
    from core.methods.pruning.masks import prunable_weights

    task = family_task(family, tiny_task)
    state = models[family].replace(model=copy.deepcopy(models[family].model))
    weights = prunable_weights(state.model)
    layers = adapter_for(state.model).layer_names(state.model)
    assert all(any(n.startswith(f"{layer}.") for n in weights) for layer in layers)
    out = apply_method("prune.magnitude", state, method_context(tmp_path, task, state), sparsity=0.5)
    assert count_parameters(out.model, nonzero=True) < count_parameters(models[family].model, nonzero=True)
    _finite_logits(out.model, task)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_steps_run(family, models, tiny_task, tmp_path):
    """LayerDrop (where it applies) and the head sensitivity run on every family; a distillation step on those
    whose layout differs most from BERT's."""
    task = family_task(family, tiny_task)
    state = models[family].replace(model=copy.deepcopy(models[family].model))
    ctx = method_context(tmp_path, task, state, teacher=models[family])
    train = dict(max_steps=1, batch_size=8, eval_samples=8)
    if applicability("train.layerdrop", family) is None:
        state = apply_method("train.layerdrop", state, ctx, rate=0.5, **train)
        assert len(adapter_for(state.model).layers(state.model)) == len(adapter_for(models[family].model).layers(models[family].model))
    if family in ("distilbert", "albert", "deberta-v2", "modernbert"):
        state = apply_method("distill.train", state, ctx, **train)
    state = apply_method("analyze.sensitivity", state, ctx, measure="gradient", batches=1, batch_size=8)
    assert [len(r) for r in state.extras["sensitivity"]["heads"]] == head_counts(state.model)
    _finite_logits(state.model, task)


def test_albert_change_applies_to_the_shared_group(models, tiny_task, tmp_path):
    task = family_task("albert", tiny_task)
    state = models["albert"].replace(model=copy.deepcopy(models["albert"].model))
    ctx = method_context(tmp_path, task, state)
    out = apply_method("prune.heads", state, ctx, count=1, batches=1, batch_size=8)
    assert head_counts(out.model) == [3]  # the one shared layer, used at all 3 depths
    logs = [e.message for e in ctx.events if type(e).__name__ == "LogMessage"]
    assert any("shares weights" in m and "all 3 depths" in m for m in logs), logs
    student = apply_method("distill.student_init", out, ctx, mode="config", num_layers=1, hidden_size=16, num_heads=2,
                           intermediate_size=32)
    assert count_parameters(student.model) < count_parameters(out.model)
    _finite_logits(student.model, task)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "deberta"])
def test_removing_heads_equals_masking_them(family, models, tiny_task):
    """Heads removed physically give the outputs of the full model with those heads gated to zero."""
    from core.methods.pruning.importance import head_gates, ones_head_gates
    from core.models.surgery import keep_heads

    task = family_task(family, tiny_task)
    model = copy.deepcopy(models[family].model).eval()
    batch = {k: v for k, v in one_batch(task).items() if k not in ("labels", "token_type_ids")}
    encoder = adapter_for(model).base(model)  # hidden states: random heads give near-zero logits (MobileBERT)
    keep = {0: [1, 3], len(head_counts(model)) - 1: [0]}
    gates = ones_head_gates(model)
    for layer, heads in keep.items():
        gates[layer] = torch.tensor([1.0 if h in heads else 0.0 for h in range(len(gates[layer]))])
    with torch.no_grad(), head_gates(model, gates):
        masked = encoder(**batch).last_hidden_state
    with torch.no_grad():
        full = encoder(**batch).last_hidden_state
    keep_heads(model, keep)
    with torch.no_grad():
        removed = encoder(**batch).last_hidden_state
    assert not torch.allclose(full, masked, atol=1e-6)  # the gates did change something
    torch.testing.assert_close(removed, masked, atol=1e-5, rtol=1e-4)


def test_refusals_name_family_and_reason_before_a_run():
    assert applicability("prune.heads", "bert") is None
    assert "DeBERTa (v1)" in applicability("prune.heads", "deberta") and "in_proj" in applicability("prune.heads", "deberta")
    assert "ALBERT" in applicability("distill.student_init", "albert", {"mode": "layers"})
    assert applicability("distill.student_init", "albert", {"mode": "config"}) is None
    assert "ALBERT" in applicability("distill.student_init", "albert", {})  # the default mode is layers
    assert applicability("distill.student_init", "albert") is None  # the palette: some settings can apply
    assert "not a supported" in applicability("prune.heads", "gpt2")
    # a model that is int8 already (loaded from such an export) cannot be trained or distilled further
    for method in ("finetune", "distill.train", "prune.heads", "quant.qat"):
        why = applicability(method, "bert", quantized=True)
        assert why and "int8" in why and "cannot be trained, distilled" in why
    assert applicability("evaluate", "bert", quantized=True) is None
    # along a stack: a step after a freezing step is refused, with its index
    problems = stack_problems([("prune.ffn", {}), ("quant.dynamic_int8", {}), ("finetune", {})], "mobilebert")
    assert [i for i, _ in problems] == [0, 2]
    assert "MobileBERT" in problems[0][1] and "int8" in problems[1][1]


@pytest.mark.parametrize("family", ["albert", "modernbert", "distilbert"])
def test_distillation_matches_hidden_states_and_attention(family, models, tiny_task, tmp_path):
    """Layer-wise matching counts depths through the adapter (ALBERT: more depths than layers of weights)."""
    task = family_task(family, tiny_task)
    teacher = models[family]
    student = apply_method("distill.student_init", teacher, method_context(tmp_path, task, teacher), mode="config",
                           num_layers=1)
    ctx = method_context(tmp_path, task, student, teacher=teacher)
    out = apply_method("distill.train", student, ctx, max_steps=1, batch_size=8, eval_samples=8, hidden_weight=1.0,
                       attention_weight=1.0)
    hidden, attention = ctx.seen["distill/hidden_loss"], ctx.seen["distill/attention_loss"]
    assert all(v > 0 and v == v and v != float("inf") for v in hidden + attention), (hidden, attention)
    _finite_logits(out.model, task)


def test_validate_refuses_a_step_the_family_cannot_take(tiny_task, tmp_path, capsys):
    from core.cli import main
    from core.recipe import ModelRef, Step
    from tests.conftest import tiny_recipe
    from tests.core.methods.families import family_model

    family_model("albert").save_pretrained(tmp_path / "albert")
    tiny_task.tokenizer.save_pretrained(tmp_path / "albert")
    recipe = tiny_recipe(Step("prune.heads", {}), Step("prune.layers", {"strategy": "first_k", "keep": 1}))
    recipe.model = ModelRef(str(tmp_path / "albert"))
    recipe.save(tmp_path / "r.yaml")
    assert main(["validate", str(tmp_path / "r.yaml")]) == 2
    err = capsys.readouterr().err
    assert "step 2 (prune.layers)" in err and "ALBERT" in err and "one set of layer weights" in err
    assert "prune.heads" not in err.replace("step 2 (prune.layers)", "")


@pytest.mark.parametrize("family", ["distilbert", "albert", "modernbert", "deberta-v2"])
def test_weights_by_component_sees_attention_and_ffn(family, models):
    from core.models.architecture import weights_by_component

    parts = weights_by_component(models[family].model)
    assert parts["attention"]["parameters"] > 0 and parts["ffn"]["parameters"] > 0
    assert parts["embeddings"]["parameters"] > parts["attention"]["parameters"]  # 30522-word tables
    assert sum(p["parameters"] for p in parts.values()) == count_parameters(models[family].model)


@pytest.mark.parametrize("family", FAMILIES)
def test_quantization_applies_and_freezes(family, models, tiny_task, tmp_path):
    """k-bit weights per layer and dynamic int8 run on every family; nothing trains afterwards."""
    from core.models.architecture import serialized_size

    task = family_task(family, tiny_task)
    for method, settings in (("quant.kbit", {"bits": 4}), ("quant.dynamic_int8", {})):
        state = models[family].replace(model=copy.deepcopy(models[family].model))
        out = apply_method(method, state, method_context(tmp_path, task, state), **settings)
        for layer in adapter_for(out.model).layers(out.model):  # every layer's linears now hold integer codes
            assert not any(type(m) is torch.nn.Linear for m in layer.modules()), (method, family)
        if family != "mobilebert":  # its 16-wide bottleneck linears are too small for the scales to pay off
            assert serialized_size(out.model) < serialized_size(models[family].model)
        _finite_logits(out.model, task)
    assert "int8" in applicability("finetune", family, quantized=True)


def test_run_refuses_a_step_the_family_cannot_take_before_anything_is_recorded(tiny_task, tmp_path, capsys):
    from core.cli import main
    from core.recipe import ModelRef, Step
    from tests.conftest import tiny_recipe
    from tests.core.methods.families import family_model

    family_model("albert").save_pretrained(tmp_path / "albert")
    tiny_task.tokenizer.save_pretrained(tmp_path / "albert")
    recipe = tiny_recipe(Step("prune.layers", {"strategy": "first_k", "keep": 1}))
    recipe.model = ModelRef(str(tmp_path / "albert"))
    recipe.save(tmp_path / "r.yaml")
    db = tmp_path / "runs.db"
    assert main(["--db", f"sqlite:///{db}", "run", str(tmp_path / "r.yaml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "step 1 (prune.layers)" in err and "ALBERT" in err
    assert not db.exists()  # refused before the database was opened: no run recorded, no model loaded


def test_engine_refuses_a_step_the_family_cannot_take(tiny_task, tmp_path):
    from core.engine import Engine
    from core.recipe import ModelRef, Step
    from tests.conftest import tiny_recipe
    from tests.core.methods.families import family_model

    family_model("albert").save_pretrained(tmp_path / "albert")
    tiny_task.tokenizer.save_pretrained(tmp_path / "albert")
    recipe = tiny_recipe(Step("prune.layers", {"strategy": "first_k", "keep": 1}))
    recipe.model = ModelRef(str(tmp_path / "albert"))
    result = Engine(workdir_root=tmp_path / "runs").run(recipe, task=tiny_task)
    assert result.status == "failed" and "ALBERT" in result.error and "prune.layers" in result.error
    assert result.state is None  # nothing loaded or changed
