"""Export and reload for every encoder family: plain folders that transformers loads, pruned ones through the
studio's manifest, and int8 exports that reload quantized and refuse further training."""

from __future__ import annotations

import copy

import pytest
import torch

from core.export.api import export_model, sample_batch
from core.models.checkpoint import save_checkpoint
from core.models.adapters import FamilyRefusal
from core.models.architecture import layer_shapes
from core.models.loading import STUDIO_MANIFEST, load_model, load_tokenizer
from core.models.surgery import ffn_widths, head_counts, keep_ffn, keep_heads
from tests.core.export.helpers import logits
from tests.core.methods.families import FAMILIES, family_state


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny")


def _state(family, tokenizer):
    return family_state(family, tokenizer)


def _batch(state):
    return sample_batch(state.tokenizer, max_length=24)


def _reload_matches(state, folder):
    reloaded = load_model(str(folder), num_labels=2)
    batch = _batch(state)
    torch.testing.assert_close(logits(reloaded.model, batch), logits(state.model, batch), atol=1e-5, rtol=1e-4)
    return reloaded


@pytest.mark.parametrize("family", FAMILIES)
def test_pruned_export_reloads_with_its_architecture(family, tokenizer, tmp_path):
    """Fewer heads in one layer (where heads can go) and a narrower FFN everywhere (where it can), then hf export."""
    state = _state(family, tokenizer)
    model = state.model
    n = len(head_counts(model))
    if family != "deberta":  # DeBERTa v1: head removal refused (fused per-head in_proj)
        keep_heads(model, {0: [0, 2]})
    if family != "mobilebert":  # MobileBERT: FFN pruning refused (stacked FFNs)
        keep_ffn(model, {i: range(40) for i in range(n)})
    shapes = layer_shapes(model)
    save_checkpoint(state, tmp_path / "out")  # the hf export's format, without its latency timing
    assert (tmp_path / "out" / STUDIO_MANIFEST).is_file() != (family == "deberta")
    reloaded = _reload_matches(state, tmp_path / "out")
    assert layer_shapes(reloaded.model) == shapes
    assert type(reloaded.model) is type(model)


# one family per way the config says the FFN width and depth (intermediate_size, hidden_dim, ALBERT's depths,
# ModernBERT's gated FFN and layer types, MobileBERT's bottleneck heads)
@pytest.mark.parametrize("family", ["bert", "distilbert", "albert", "modernbert", "mobilebert", "deberta-v2"])
def test_uniform_ffn_export_is_a_standard_folder(family, tokenizer, tmp_path):
    """A uniformly narrower FFN is what a plain config says: transformers alone loads the folder."""
    from transformers import AutoModelForSequenceClassification

    state = _state(family, tokenizer)
    if family != "mobilebert":
        keep_ffn(state.model, {i: range(24) for i in range(len(ffn_widths(state.model)))})
    export_model(state, tmp_path / "out", "hf", batch=_batch(state), latency_repeats=1)
    assert not (tmp_path / "out" / STUDIO_MANIFEST).exists()
    plain = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "out"))
    batch = _batch(state)
    torch.testing.assert_close(logits(plain, batch), logits(state.model, batch), atol=1e-5, rtol=1e-4)
    assert ffn_widths(plain) == ffn_widths(state.model)


@pytest.mark.parametrize("family", ["albert", "modernbert"])
def test_int8_export_reloads_quantized_and_refuses_training(family, tokenizer, tmp_path):
    from core.methods.quantization.dynamic import quantize_dynamic_int8
    from tests.conftest import apply_method, method_context

    state = _state(family, tokenizer)
    state = state.replace(model=quantize_dynamic_int8(copy.deepcopy(state.model)), quantized=True)
    export_model(state, tmp_path / "int8", "hf", batch=_batch(state), latency_repeats=1)
    reloaded = load_model(str(tmp_path / "int8"), num_labels=2)
    assert reloaded.quantized
    from core.models.adapters import source_profile

    assert source_profile(str(tmp_path / "int8")) == (family, True)
    # refused before a run, with the step named: what validate / run report
    from core.applicability import recipe_problems
    from core.recipe import ModelRef, Step
    from tests.conftest import tiny_recipe

    recipe = tiny_recipe(Step("evaluate", {}), Step("finetune", {}))
    recipe.model = ModelRef(str(tmp_path / "int8"))
    problems = recipe_problems(recipe)
    assert [(p.step, p.method) for p in problems] == [(1, "finetune")] and "int8" in problems[0].message
    ctx = method_context(tmp_path, None, reloaded)
    for method in ("finetune", "distill.train"):
        with pytest.raises(FamilyRefusal, match="cannot be trained, distilled"):
            apply_method(method, reloaded, ctx)


@pytest.mark.parametrize("family", ["albert", "deberta-v2", "modernbert"])
def test_pruned_onnx_export_matches(family, tokenizer, tmp_path):
    """Shared layers, relative-position attention and fused QKV with rotary positions export to ONNX once pruned."""
    state = _state(family, tokenizer)
    keep_heads(state.model, {0: [0, 2]})
    report = export_model(state, tmp_path / "onnx", "onnx", batch=_batch(state), latency_repeats=1)
    assert report.verified and report.max_abs_diff < 1e-4 and report.argmax_agreement == 1.0


@pytest.mark.parametrize("family", ["modernbert", "distilbert", "albert", "deberta-v2"])
def test_a_users_model_folder_loads(family, tokenizer, tmp_path):
    """A folder saved with save_pretrained (as a user brings it) loads with a new head; ModernBERT included."""
    state = _state(family, tokenizer)
    state.model.save_pretrained(tmp_path / "user")
    state.tokenizer.save_pretrained(tmp_path / "user")
    loaded = load_model(str(tmp_path / "user"), num_labels=3)
    assert loaded.model.config.model_type == state.model.config.model_type and loaded.model.config.num_labels == 3
    batch = sample_batch(loaded.tokenizer, max_length=24)
    with torch.no_grad():
        out = loaded.model.eval()(**batch).logits
    assert out.shape[-1] == 3 and torch.isfinite(out).all()
    assert layer_shapes(loaded.model) == layer_shapes(state.model)
