"""ONNX exports run in ONNX Runtime and agree with the in-memory model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ExportError
from core.export.api import export_model
from core.export.onnx_session import OnnxRunner
from core.models.loading import load_model
from tests.core.export.helpers import logits, prune_layer, spread_classifier


def _onnx_logits(folder, batch):
    return OnnxRunner(folder / "model.onnx")(**batch)


def test_onnx_parity_with_dynamic_axes(tiny_state, tmp_path, batch):
    report = export_model(tiny_state, tmp_path / "onnx", "onnx", batch=batch, latency_repeats=1)
    assert report.verified and report.max_abs_diff < 1e-4
    expected = logits(tiny_state.model, batch).numpy()
    np.testing.assert_allclose(_onnx_logits(tmp_path / "onnx", batch), expected, atol=1e-4)
    # another batch size and sequence length than the export was traced with
    small = {k: v[:3, :11] for k, v in batch.items()}
    np.testing.assert_allclose(_onnx_logits(tmp_path / "onnx", small), logits(tiny_state.model, small).numpy(), atol=1e-4)
    assert {"model.onnx", "config.json", "tokenizer.json", "README.md"} <= {p.name for p in (tmp_path / "onnx").iterdir()}


def test_onnx_of_a_pruned_model(tiny_state, tmp_path, batch):
    prune_layer(tiny_state.model, 0, heads=[0, 3], ffn=24)
    export_model(tiny_state, tmp_path / "onnx", "onnx", batch=batch, latency_repeats=1)
    expected = logits(tiny_state.model, batch).numpy()
    np.testing.assert_allclose(_onnx_logits(tmp_path / "onnx", batch), expected, atol=1e-4)


def test_onnx_int8_agrees_on_most_rows_and_is_smaller(tmp_path, batch):
    state = load_model("tiny", num_labels=3, seed=2)
    spread_classifier(state.model)
    reference = load_model("tiny", num_labels=3, seed=3)
    report = export_model(state, tmp_path / "int8", "onnx-int8", batch=batch, reference=reference, latency_repeats=1)
    out = _onnx_logits(tmp_path / "int8", batch)
    agreement = float(np.mean(out.argmax(-1) == logits(state.model, batch).numpy().argmax(-1)))
    assert agreement >= 0.8 and report.argmax_agreement == pytest.approx(agreement)
    # int8 weights (embeddings included) against the fp32 original's tensors
    assert report.size_ratio > 3.0 and report.original_size_bytes > 3 * report.weights_bytes
    assert report.latency_ms > 0 and report.original_latency_ms > 0 and report.speedup > 0


def test_onnx_of_a_torch_int8_model(tiny_state, tmp_path, batch):
    from core.methods.quantization.dynamic import quantize_dynamic_int8

    spread_classifier(tiny_state.model)
    state = tiny_state.replace(model=quantize_dynamic_int8(tiny_state.model), quantized=True)
    report = export_model(state, tmp_path / "onnx", "onnx", batch=batch, latency_repeats=1)
    assert report.argmax_agreement >= 0.8 and any("dequantized" in n for n in report.notes)


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_onnx_of_a_model_with_4_bit_embeddings_and_linears(tiny_state, tmp_path, batch, fmt):
    # the packed 4-bit codes are unpacked with bit operations the tracer cannot export: the export
    # traces float layers holding the dequantized weights instead (it once failed with "bitwise AND")
    from core.methods.quantization.dynamic import quantize_dynamic_int8
    from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear

    spread_classifier(tiny_state.model)
    bert = tiny_state.model.bert
    bert.embeddings.word_embeddings = KBitEmbedding.from_embedding(bert.embeddings.word_embeddings, 4, 32, True)
    layer = bert.encoder.layer[0]
    layer.output.dense = KBitLinear.from_linear(layer.output.dense, 4, 32, True)
    # the int8 case is the frontier stack's: 4-bit embedding rows beside torch dynamic int8 linears
    model = quantize_dynamic_int8(tiny_state.model) if fmt == "onnx-int8" else tiny_state.model
    state = tiny_state.replace(model=model, quantized=True)
    report = export_model(state, tmp_path / fmt, fmt, batch=batch, latency_repeats=1)
    out = _onnx_logits(tmp_path / fmt, batch)
    assert report.verified and float(np.mean(out.argmax(-1) == logits(model, batch).numpy().argmax(-1))) >= 0.8
    if fmt == "onnx":  # the float graph computes exactly what the dequantized k-bit weights do
        np.testing.assert_allclose(out, logits(model, batch).numpy(), atol=1e-3)


def test_onnx_failure_leaves_nothing(tiny_state, tmp_path, batch, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ExportError, match="could not be converted to ONNX"):
        export_model(tiny_state, tmp_path / "onnx", "onnx", batch=batch)
    assert list(tmp_path.iterdir()) == []
