"""Issue 13, item 1: the model inspector counts quantized and packed weights by what they hold."""

from __future__ import annotations

import pytest

from core.models.architecture import count_parameters, describe, serialized_size, weights_by_component


def _pruned_tiny():
    from core.models.loading import load_model
    from core.models.surgery import keep_heads

    model = load_model("tiny", num_labels=2, seed=0).model
    keep_heads(model, {0: [0, 1], 1: [2]}, None)  # 8 heads -> 3
    return model


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.ao eager quantization (see dynamic.py)
def test_int8_head_pruned_model_keeps_its_weights_by_component():
    from core.methods.quantization.dynamic import quantize_dynamic_int8

    float_model = _pruned_tiny()
    before = weights_by_component(float_model)
    quantized = quantize_dynamic_int8(_pruned_tiny(), per_channel=True)
    after = weights_by_component(quantized)
    # The packed int8 linears still hold as many weights as before ...
    assert after["attention"]["parameters"] == before["attention"]["parameters"] > 1000
    assert after["ffn"]["parameters"] == before["ffn"]["parameters"] > 1000
    assert count_parameters(quantized) == count_parameters(float_model)
    # ... in about a quarter of the bytes (int8 codes plus per-channel scales, float LayerNorms and biases)
    assert after["attention"]["bytes"] < 0.5 * before["attention"]["bytes"]
    assert after["embeddings"]["bytes"] == before["embeddings"]["bytes"]  # left in float
    # the components add up to the whole, and the bytes to about the saved size
    assert sum(e["parameters"] for e in after.values()) == count_parameters(quantized)
    assert 0.9 < sum(e["bytes"] for e in after.values()) / serialized_size(quantized) <= 1.0


def test_kbit_weights_count_by_what_they_represent():
    from core.methods.quantization.kbit import KBitSettings, quantize_kbit

    model = _pruned_tiny()
    before = weights_by_component(model)
    quantize_kbit(model, KBitSettings(bits=4))
    after = weights_by_component(model)
    assert after["ffn"]["parameters"] == before["ffn"]["parameters"]
    assert after["ffn"]["bytes"] < 0.3 * before["ffn"]["bytes"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.ao eager quantization (see dynamic.py)
def test_inspector_shares_add_to_100_and_show_bytes(qtbot):
    from core.methods.quantization.dynamic import quantize_dynamic_int8
    from studio.dialogs.inspector import COMPONENT_HEADERS, ModelInspector

    model = quantize_dynamic_int8(_pruned_tiny(), per_channel=True)
    info = {**describe(model), "size_bytes": serialized_size(model), "source": "test"}
    dialog = ModelInspector(info)
    qtbot.addWidget(dialog)
    table = dialog.components_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == list(COMPONENT_HEADERS)
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert {"embeddings", "attention", "ffn", "head"} <= set(rows)
    for share_column in (2, 4):
        total = sum(float(row[share_column].rstrip(" %")) for row in rows.values())
        assert total == pytest.approx(100.0, abs=0.3)
    assert float(rows["attention"][2].rstrip(" %")) > 0.1  # no longer 0.0 % for a quantized attention
    assert sum(int(row[1].replace(",", "")) for row in rows.values()) == info["parameters"]
