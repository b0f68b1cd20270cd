"""ONNX Runtime's BERT fusion on models whose layers kept different head counts (prune.heads)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import core.export.onnx_fusion as onnx_fusion
from core.export.api import export_model
from core.export.onnx_graph import export_graph
from core.export.onnx_session import OnnxRunner
from core.export.onnx_fusion import fuse, pin_head_counts
from core.export.verify import ONNX_FLOAT, QUANTIZED
from core.models.loading import load_model
from core.models.surgery import head_counts
from tests.core.export.helpers import logits, prune_layer, spread_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sharpen_attention(model, scale: float = 6.0) -> None:
    """Scale the random query and key weights so attention is peaked, not uniform: how the heads are split then
    changes the outputs (with the random init every split averages the values alike)."""
    import torch

    with torch.no_grad():
        for layer in model.bert.encoder.layer:
            layer.attention.self.query.weight.mul_(scale)
            layer.attention.self.key.weight.mul_(scale)


@pytest.fixture
def pruned():
    """Tiny BERT (4 heads of 8 per layer) keeping 2 heads in layer 0 and 1 head in layer 1."""
    state = load_model("tiny", num_labels=3, seed=2)
    spread_classifier(state.model)
    sharpen_attention(state.model)
    prune_layer(state.model, 0, heads=[0, 3], ffn=24)
    prune_layer(state.model, 1, heads=[1])
    assert head_counts(state.model) == [2, 1]
    return state


def _ops(file) -> Counter:
    import onnx

    return Counter(node.op_type for node in onnx.load(str(file)).graph.node)


def _heads_of_attention_nodes(file) -> list[int]:
    import onnx

    return [next(a.i for a in node.attribute if a.name == "num_heads")
            for node in onnx.load(str(file)).graph.node if node.op_type in ("Attention", "MultiHeadAttention")]


def test_per_layer_heads_fuse_with_each_layers_count(pruned, tmp_path, batch):
    src = tmp_path / "float.onnx"
    export_graph(pruned, src, batch)
    result = fuse(src, tmp_path / "fused.onnx", batch)
    assert result.file == tmp_path / "fused.onnx" and result.attention == result.layers == 2
    assert _ops(result.file)["Attention"] == 2 and _ops(result.file)["Softmax"] == 0
    assert sorted(_heads_of_attention_nodes(result.file)) == [1, 2]  # each layer's own count, not the config's 4
    assert result.pinned == 6  # Q, K and V head splits of both layers
    # the fused float graph reproduces the torch model
    out = OnnxRunner(result.file)(**batch)
    np.testing.assert_allclose(out, logits(pruned.model, batch).numpy(), atol=ONNX_FLOAT.atol, rtol=ONNX_FLOAT.rtol)
    note = result.describe("before int8 quantization")
    assert "attention fused in all 2 layers" in note and "Attention x2" in note and "SkipLayerNormalization x4" in note


def test_without_pinned_counts_the_fusion_cannot_read_them(pruned, tmp_path, batch, monkeypatch):
    """What the pinning is for: the exporter's -1 head count leaves ONNX Runtime no count to detect."""
    src = tmp_path / "float.onnx"
    export_graph(pruned, src, batch)
    monkeypatch.setattr(onnx_fusion, "pin_head_counts", lambda model: 0)
    result = fuse(src, tmp_path / "fused.onnx", batch)
    # the other fusions still apply, and the note says exactly that attention was left alone
    assert result.file is not None and result.attention == 0 and result.layers == 2
    assert result.ops.get("SkipLayerNormalization") == 4 and "Attention" not in result.ops
    assert _ops(result.file)["Softmax"] == 2
    assert "attention not fused in any of the 2 layers" in result.describe("x")
    out = OnnxRunner(result.file)(**batch)
    np.testing.assert_allclose(out, logits(pruned.model, batch).numpy(), atol=ONNX_FLOAT.atol, rtol=ONNX_FLOAT.rtol)


def test_a_fusion_with_the_wrong_head_count_is_discarded(pruned, tmp_path, batch, monkeypatch):
    """Unpinned and told the configured 4 heads, the fusion splits the pruned layers wrongly: the check refuses it."""
    src = tmp_path / "float.onnx"
    export_graph(pruned, src, batch)
    monkeypatch.setattr(onnx_fusion, "pin_head_counts", lambda model: 0)
    result = fuse(src, tmp_path / "fused.onnx", batch, 4, 32)
    assert result.file is None and not (tmp_path / "fused.onnx").exists()
    assert "does not reproduce" in result.reason
    assert "not used" in result.describe("before int8 quantization")


def test_pinning_keeps_the_graph_computing_the_same(pruned, tmp_path, batch):
    import onnx

    src = tmp_path / "float.onnx"
    export_graph(pruned, src, batch)
    model = onnx.load(str(src))
    assert pin_head_counts(model) == 6
    onnx.save(model, str(tmp_path / "pinned.onnx"))
    small = {k: v[:3, :11] for k, v in batch.items()}  # other batch size and length than traced
    for feed in (batch, small):
        np.testing.assert_allclose(OnnxRunner(tmp_path / "pinned.onnx")(**feed), OnnxRunner(src)(**feed), atol=1e-6)


def test_int8_export_of_a_per_layer_pruned_model_is_fused(pruned, tmp_path, batch, monkeypatch):
    import core.export.onnx_export as onnx_export

    # the fused graph is kept where it is not measurably slower (the choice is tested below)
    monkeypatch.setattr(onnx_export, "_ms_per_batch", lambda files, sample: {"fused": 10.0, "unfused": 10.0})
    report = export_model(pruned, tmp_path / "int8", "onnx-int8", batch=batch, latency_repeats=1)
    ops = _ops(tmp_path / "int8" / "model.onnx")
    assert ops["QAttention"] == 2 and ops["Softmax"] == 0  # fused attention, quantized
    assert report.verified and report.tolerance == QUANTIZED.describe()
    out = OnnxRunner(tmp_path / "int8" / "model.onnx")(**batch)
    agreement = float(np.mean(out.argmax(-1) == logits(pruned.model, batch).numpy().argmax(-1)))
    assert agreement >= QUANTIZED.min_agreement and report.argmax_agreement == pytest.approx(agreement)
    fused = [n for n in report.notes if "BERT fusion applied before int8" in n]
    assert len(fused) == 1 and "attention fused in all 2 layers" in fused[0] and "head counts written into 6 head-split reshapes" in fused[0]


@pytest.mark.parametrize("fused_ms, plain_ms, kept", [(250.0, 220.0, "unfused"), (250.0, 245.0, "fused"),
                                                      (4.0, 2.0, "fused")])
def test_the_int8_export_keeps_the_unfused_graph_only_where_it_is_measurably_faster(
        pruned, tmp_path, batch, monkeypatch, fused_ms, plain_ms, kept):
    import core.export.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "_ms_per_batch", lambda files, sample: {"fused": fused_ms, "unfused": plain_ms})
    report = export_model(pruned, tmp_path / "int8", "onnx-int8", batch=batch, latency_repeats=1)
    ops = _ops(tmp_path / "int8" / "model.onnx")
    assert (ops["QAttention"] == 2) == (kept == "fused")
    assert report.verified and not (tmp_path / "int8" / "unfused.onnx").exists()
    timed = [n for n in report.notes if f"{plain_ms:.1f} ms per batch unfused against {fused_ms:.1f} ms fused" in n]
    assert len(timed) == 1 and timed[0].startswith("int8 graph kept unfused" if kept == "unfused" else "fused int8")


def test_fusion_is_an_explicit_export_option(pruned, tmp_path, batch, monkeypatch):
    """The format's default choice (none for onnx, fastest for onnx-int8) is replaced by the caller's."""
    import core.export.onnx_export as onnx_export

    def untimed(files, sample):
        raise AssertionError("only the 'fastest' choice times the two graphs")

    monkeypatch.setattr(onnx_export, "_ms_per_batch", untimed)
    fused = export_model(pruned, tmp_path / "float", "onnx", batch=batch, latency_repeats=1, fusion="fused")
    ops = _ops(tmp_path / "float" / "model.onnx")
    assert ops["Attention"] == 2 and ops["Softmax"] == 0 and fused.tolerance == ONNX_FLOAT.describe()
    assert any("BERT fusion applied to the float graph: attention fused in all 2 layers" in n for n in fused.notes)
    plain = export_model(pruned, tmp_path / "int8", "onnx-int8", batch=batch, latency_repeats=1, fusion="none")
    ops = _ops(tmp_path / "int8" / "model.onnx")
    assert not ops["QAttention"] and ops["Softmax"] == 2 and plain.verified
    assert "fusion not requested: quantized as exported" in plain.notes
    assert sorted(p.name for p in (tmp_path / "int8").iterdir() if p.suffix == ".onnx") == ["model.onnx"]


@pytest.mark.parametrize("format, fusion, message", [("hf", "fused", "option of the ONNX formats"),
                                                     ("onnx-int8", "sometimes", "unknown fusion 'sometimes'")])
def test_a_fusion_the_format_cannot_take_is_refused_before_writing(pruned, tmp_path, batch, format, fusion, message):
    from core.errors import ExportError

    with pytest.raises(ExportError, match=message):
        export_model(pruned, tmp_path / "out", format, batch=batch, fusion=fusion)
    assert list(tmp_path.iterdir()) == []


def test_the_fastest_choice_applies_to_the_float_graph_too(pruned, tmp_path, batch, monkeypatch):
    import core.export.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "_ms_per_batch", lambda files, sample: {"fused": 250.0, "unfused": 200.0})
    report = export_model(pruned, tmp_path / "float", "onnx", batch=batch, latency_repeats=1, fusion="fastest")
    ops = _ops(tmp_path / "float" / "model.onnx")
    assert ops["Softmax"] == 2 and not ops["Attention"] and report.tolerance == ONNX_FLOAT.describe()
    kept = [n for n in report.notes if n.startswith("float graph kept unfused")]
    assert len(kept) == 1 and "200.0 ms per batch unfused against 250.0 ms fused" in kept[0]
    assert not any(n.startswith("fusion not requested") for n in report.notes)
