"""ONNX Runtime 4-bit export: MatMulNBits linear weights, GatherBlockQuantized embedding rows, verified."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import core.export.onnx_int4 as onnx_int4
from core.cli.export_cmd import FORMAT_CHOICES
from core.errors import ExportError
from core.export.api import FORMATS, export_model
from core.export.onnx_session import OnnxRunner
from core.export.onnx_int4 import INT4, gather_block_quantized_available
from core.models.loading import load_model
from tests.core.export.helpers import logits, prune_layer, spread_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def state():
    state = load_model("tiny", num_labels=3, seed=2)
    spread_classifier(state.model)
    return state


def _ops(file) -> Counter:
    import onnx

    return Counter(node.op_type for node in onnx.load(str(file)).graph.node)


def test_int4_is_a_format_of_the_export_and_the_cli():
    from studio.dialogs.export_dialog import FORMATS as DIALOG_FORMATS

    assert "onnx-int4" in FORMATS and "onnx-int4" in FORMAT_CHOICES and "onnx-int4" in DIALOG_FORMATS


def test_int4_export_reloads_agrees_and_is_smallest(state, tmp_path, batch):
    assert gather_block_quantized_available()  # the installed ONNX Runtime (1.32) has the kernel
    int4 = export_model(state, tmp_path / "int4", "onnx-int4", batch=batch, reference=state, latency_repeats=1)
    int8 = export_model(state, tmp_path / "int8", "onnx-int8", batch=batch, latency_repeats=1)
    ops = _ops(tmp_path / "int4" / "model.onnx")
    # 2 layers x (Q, K, V, output, FFN in, FFN out); word, position and token-type tables
    assert ops["MatMulNBits"] == 12 and ops["GatherBlockQuantized"] == 3 and ops["MultiHeadAttention"] == 2
    assert not ops["MatMul"]  # every linear-layer MatMul went to 4 bits
    assert int4.verified and int4.tolerance == INT4.describe()
    out = OnnxRunner(tmp_path / "int4" / "model.onnx")(**batch)
    expected = logits(state.model, batch).numpy()
    agreement = float(np.mean(out.argmax(-1) == expected.argmax(-1)))
    assert agreement >= INT4.min_agreement and int4.argmax_agreement == pytest.approx(agreement)
    assert int4.max_abs_diff == pytest.approx(float(np.max(np.abs(out - expected))), rel=1e-4)
    # half a byte per weight (plus block scales) against int8's byte and fp32's four
    assert int4.weights_bytes < 0.7 * int8.weights_bytes and int4.size_ratio > 5
    assert any("3 embedding table(s) stored as 4-bit rows" in n for n in int4.notes), int4.notes
    assert any("12 of 12 linear-layer MatMuls carry 4-bit weights" in n for n in int4.notes), int4.notes


def test_int4_of_a_per_layer_pruned_model(state, tmp_path, batch):
    prune_layer(state.model, 0, heads=[0, 3], ffn=24)
    report = export_model(state, tmp_path / "int4", "onnx-int4", batch=batch, latency_repeats=1)
    ops = _ops(tmp_path / "int4" / "model.onnx")
    assert ops["MultiHeadAttention"] == 2 and ops["MatMulNBits"] == 12
    assert any("attention fused in all 2 layers" in n and "MultiHeadAttention x2" in n for n in report.notes)
    assert report.argmax_agreement >= INT4.min_agreement


def test_without_the_embedding_kernel_the_tables_stay_float(state, tmp_path, batch, monkeypatch):
    monkeypatch.setattr(onnx_int4, "gather_block_quantized_available", lambda: False)
    report = export_model(state, tmp_path / "int4", "onnx-int4", batch=batch, latency_repeats=1)
    ops = _ops(tmp_path / "int4" / "model.onnx")
    assert not ops["GatherBlockQuantized"] and ops["MatMulNBits"] == 12
    assert any("embeddings kept in float" in n for n in report.notes), report.notes


def test_int4_quantizer_failure_leaves_nothing(state, tmp_path, batch, monkeypatch):
    from onnxruntime.quantization import matmul_nbits_quantizer

    def broken(self):
        raise RuntimeError("no kernel for this block size")

    monkeypatch.setattr(matmul_nbits_quantizer.MatMulNBitsQuantizer, "process", broken)
    with pytest.raises(ExportError, match="int4 quantization failed: RuntimeError: no kernel"):
        export_model(state, tmp_path / "int4", "onnx-int4", batch=batch, latency_repeats=1)
    assert list(tmp_path.iterdir()) == []
