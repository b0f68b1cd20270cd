"""DeBERTa-v3's configuration: the relative positions projected by the content query/key (``share_att_key``).

With ``share_att_key=True`` there are no ``pos_key_proj`` / ``pos_query_proj``:
the relative-position embeddings go through ``query_proj`` and ``key_proj``
themselves, so removing a head's rows there removes it from the position
terms too. Bucketed positions (``position_buckets``) and a normalised
relative embedding (``norm_rel_ebd``) as microsoft/deberta-v3-* ship them;
sizes tiny.
"""

from __future__ import annotations

import copy

import pytest
import torch

from core.export.api import export_model, sample_batch
from core.applicability import applicability
from core.models.adapters import adapter_for
from core.models.architecture import count_parameters, layer_shapes
from core.models.folder import STUDIO_MANIFEST
from core.models.loading import load_model
from core.models.surgery import ffn_widths, head_counts, keep_ffn, keep_heads
from tests.conftest import apply_method, method_context


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def v3_model(seed: int = 0):
    """A tiny random DeBERTa-v3-shaped classifier (also used by the export matrix)."""
    from transformers import AutoModelForSequenceClassification, DebertaV2Config

    config = DebertaV2Config(vocab_size=30522, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                             num_hidden_layers=2, max_position_embeddings=128, pad_token_id=0, type_vocab_size=0,
                             relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=16,
                             max_relative_positions=-1, share_att_key=True, position_biased_input=False,
                             norm_rel_ebd="layer_norm", num_labels=2)
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config).eval()


@pytest.fixture
def v3(tiny_task):
    from core.models.state import ModelState

    return ModelState(model=v3_model(), tokenizer=tiny_task.tokenizer, source="tiny-deberta-v3")


def _batch(state):
    return sample_batch(state.tokenizer, max_length=24)


def _hidden(model, batch):
    with torch.no_grad():
        return adapter_for(model).base(model)(**batch).last_hidden_state


def test_the_shared_key_layout_is_what_the_adapter_meets(v3):
    attention = v3.model.deberta.encoder.layer[0].attention.self
    assert attention.share_att_key and not hasattr(attention, "pos_key_proj") and not hasattr(attention, "pos_query_proj")
    assert adapter_for(v3.model).family == "deberta-v2"
    assert applicability("prune.heads", "deberta-v2") is None and applicability("prune.ffn", "deberta-v2") is None


def test_removing_heads_equals_masking_them(v3):
    """The position terms go through the same (sliced) query/key rows: removal gives the masked outputs."""
    from core.methods.pruning.importance import head_gates, ones_head_gates

    model, batch = v3.model, _batch(v3)
    gates = ones_head_gates(model)
    gates[0] = torch.tensor([1.0, 0.0, 1.0, 0.0])
    gates[1] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    full = _hidden(model, batch)
    with torch.no_grad(), head_gates(model, gates):
        masked = _hidden(model, batch)
    before = count_parameters(model)
    keep_heads(model, {0: [0, 2], 1: [3]})
    removed = _hidden(model, batch)
    assert not torch.allclose(full, masked, atol=1e-6)  # the gates changed something
    torch.testing.assert_close(removed, masked, atol=1e-5, rtol=1e-4)
    assert head_counts(model) == [2, 1]
    # each head removed takes its query, key and value rows and its output columns (no position projections)
    assert before - count_parameters(model) == 5 * (3 * (8 * 32 + 8) + 8 * 32)


@pytest.mark.parametrize("method, settings", [
    ("prune.heads", dict(amount=0.5, batches=1, batch_size=8)),
    ("prune.ffn", dict(amount=0.5, importance="taylor", batches=1, batch_size=8)),
])
def test_pruning_methods_apply_and_the_export_reloads(method, settings, v3, tiny_task, tmp_path):
    ctx = method_context(tmp_path, tiny_task, v3)
    before = count_parameters(v3.model)
    heads, widths = head_counts(v3.model), ffn_widths(v3.model)
    out = apply_method(method, v3.replace(model=copy.deepcopy(v3.model)), ctx, **settings)
    assert count_parameters(out.model) < before
    if method == "prune.heads":
        assert sum(head_counts(out.model)) == sum(heads) // 2
    else:
        assert ffn_widths(out.model) == [w // 2 for w in widths]
    batch = _batch(out)
    with torch.no_grad():
        logits = out.model.eval()(**batch).logits
    assert torch.isfinite(logits).all()

    report = export_model(out, tmp_path / "hf", "hf", batch=batch, latency_repeats=1)
    assert report.verified
    reloaded = load_model(str(tmp_path / "hf"), num_labels=2)
    assert reloaded.model.config.share_att_key and reloaded.model.config.position_buckets == 16
    assert layer_shapes(reloaded.model) == layer_shapes(out.model)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.model(**batch).logits, logits, atol=1e-5, rtol=1e-4)
    onnx = export_model(out, tmp_path / "onnx", "onnx", batch=batch, latency_repeats=1)
    assert onnx.verified and onnx.max_abs_diff < 1e-4


def test_uniform_ffn_is_a_folder_plain_transformers_loads(v3, tmp_path):
    from transformers import AutoModelForSequenceClassification

    keep_ffn(v3.model, {0: range(24), 1: range(24)})
    batch = _batch(v3)
    export_model(v3, tmp_path / "hf", "hf", batch=batch, latency_repeats=1)
    assert not (tmp_path / "hf" / STUDIO_MANIFEST).exists()
    plain = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf"))
    assert plain.config.share_att_key and ffn_widths(plain) == [24, 24]
    with torch.no_grad():
        torch.testing.assert_close(plain(**batch).logits, v3.model(**batch).logits, atol=1e-5, rtol=1e-4)
