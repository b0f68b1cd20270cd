"""Checkpoints and hf exports reload with the same outputs, for every kind of compressed architecture."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn as nn

from core.export.api import export_model
from core.models.checkpoint import save_checkpoint
from core.export import load_export
from core.models.architecture import count_parameters, layer_shapes
from core.models.custom import register_module
from core.models.loading import STUDIO_MANIFEST, load_model
from tests.core.export.helpers import logits, prune_layer


@register_module
class ExportTestGatedLinear(nn.Module):
    """A custom module with a child linear, a parameter and a persistent buffer (registered for these tests)."""

    def __init__(self, in_features: int, out_features: int, temperature: float):
        super().__init__()
        self.inner = nn.Linear(in_features, out_features)
        self.gate = nn.Parameter(torch.zeros(out_features))
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    @property
    def out_features(self) -> int:
        return self.inner.out_features

    def forward(self, x):
        return self.inner(x) * torch.sigmoid(self.gate / self.temperature)

    def module_spec(self) -> dict:
        return {"in": self.inner.in_features, "out": self.inner.out_features, "temperature": float(self.temperature)}

    @classmethod
    def from_spec(cls, spec: dict) -> "ExportTestGatedLinear":
        return cls(int(spec["in"]), int(spec["out"]), float(spec["temperature"]))


def roundtrip(state, tmp_path, batch, atol=1e-6):
    folder = save_checkpoint(state, tmp_path / "ckpt")
    reloaded = load_export(folder)
    torch.testing.assert_close(logits(reloaded.model, batch), logits(state.model, batch), atol=atol, rtol=1e-5)
    return folder, reloaded


def manifest_of(folder):
    return json.loads((folder / STUDIO_MANIFEST).read_text())


def test_plain_model_is_a_standard_folder(tiny_state, tmp_path, batch):
    folder, reloaded = roundtrip(tiny_state, tmp_path, batch)
    assert not (folder / STUDIO_MANIFEST).exists()
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    assert reloaded.tokenizer("hello")["input_ids"] == tiny_state.tokenizer("hello")["input_ids"]


def test_per_layer_pruned_heads_and_ffn(tiny_state, tmp_path, batch):
    before = count_parameters(tiny_state.model)
    prune_layer(tiny_state.model, 0, heads=[1, 3], ffn=40)
    prune_layer(tiny_state.model, 1, heads=[2])
    folder, reloaded = roundtrip(tiny_state, tmp_path, batch)
    # heads are 8 wide: layer 0 loses 16 rows of q/k/v (with bias) and 16 columns of the output,
    # layer 1 loses 24 of each; 24 FFN neurons go from layer 0 (rows with bias, then columns)
    removed = 3 * (32 * 16 + 16) + 32 * 16 + 3 * (32 * 24 + 24) + 32 * 24 + (24 * 32 + 24) + 24 * 32
    assert count_parameters(reloaded.model) == before - removed
    assert layer_shapes(reloaded.model) == [{"heads": 2, "head_size": 8, "ffn": 40},
                                            {"heads": 1, "head_size": 8, "ffn": 64}]
    assert reloaded.model.bert.encoder.layer[1].attention.self.num_attention_heads == 1
    kinds = {e["kind"] for e in manifest_of(folder)["modules"]}
    assert kinds == {"linear"}


def test_pruned_through_the_studio_surgery(tiny_state, tmp_path, batch):
    import core.models.surgery as surgery
    surgery.keep_heads(tiny_state.model, {0: [0], 1: [1, 2, 3]})
    surgery.keep_ffn(tiny_state.model, {0: range(16), 1: range(50)})
    _, reloaded = roundtrip(tiny_state, tmp_path, batch)
    assert [s["heads"] for s in layer_shapes(reloaded.model)] == [1, 3]


@pytest.mark.parametrize("per_channel", [False, True])
def test_dynamic_int8(tiny_state, tmp_path, batch, per_channel):
    from core.methods.quantization.dynamic import quantize_dynamic_int8

    prune_layer(tiny_state.model, 0, ffn=48)
    if per_channel:
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        model = torch.ao.quantization.quantize_dynamic(tiny_state.model.eval(), {nn.Linear: qconfig}, dtype=torch.qint8)
    else:
        model = quantize_dynamic_int8(tiny_state.model)
    state = tiny_state.replace(model=model, quantized=True)
    folder, reloaded = roundtrip(state, tmp_path, batch, atol=0)  # same int8 weights, same kernels
    assert reloaded.quantized
    ffn = reloaded.model.bert.encoder.layer[0].intermediate.dense
    assert type(ffn).__name__ == "Linear" and ffn.weight().dtype == torch.qint8 and ffn.out_features == 48
    expected = "per_channel" if per_channel else "per_tensor"
    assert {e.get("qscheme") for e in manifest_of(folder)["modules"] if e["kind"] == "dynamic_int8"} == {expected}


def test_layers_sharing_one_module(tiny_state, tmp_path, batch):
    layers = tiny_state.model.bert.encoder.layer
    layers[1].attention = layers[0].attention  # ALBERT-style sharing of one block
    shared_params = count_parameters(tiny_state.model)
    folder, reloaded = roundtrip(tiny_state, tmp_path, batch)
    new_layers = reloaded.model.bert.encoder.layer
    assert new_layers[1].attention.self.query.weight is new_layers[0].attention.self.query.weight
    assert count_parameters(reloaded.model) == shared_params
    assert manifest_of(folder)["shared_modules"] == [["bert.encoder.layer.0.attention", "bert.encoder.layer.1.attention"]]
    assert new_layers[1].attention is new_layers[0].attention
    with torch.no_grad():  # still tied: one update moves both layers
        new_layers[0].attention.output.dense.bias.add_(1.0)
    assert torch.equal(new_layers[1].attention.output.dense.bias, new_layers[0].attention.output.dense.bias)


def test_generic_custom_module(tiny_state, tmp_path, batch):
    block = tiny_state.model.bert.encoder.layer[1]
    custom = ExportTestGatedLinear(32, 64, temperature=0.5)
    with torch.no_grad():
        custom.gate.normal_()
    block.intermediate.dense = custom
    folder, reloaded = roundtrip(tiny_state, tmp_path, batch)
    rebuilt = reloaded.model.bert.encoder.layer[1].intermediate.dense
    assert isinstance(rebuilt, ExportTestGatedLinear) and float(rebuilt.temperature) == 0.5
    entry = manifest_of(folder)["modules"][0]
    assert entry["class"] == "ExportTestGatedLinear" and entry["spec"]["temperature"] == 0.5


def test_standard_shape_loads_with_plain_transformers(tmp_path, batch):
    """Fewer layers and a uniform smaller FFN: plain from_pretrained rebuilds it, no manifest."""
    from transformers import AutoModelForSequenceClassification

    state = load_model("tiny", num_labels=3, seed=1)
    layers = state.model.bert.encoder.layer
    state.model.bert.encoder.layer = nn.ModuleList([layers[1]])  # config still says 2 layers, FFN 64
    prune_layer(state.model, 0, ffn=20)
    report = export_model(state, tmp_path / "out", "hf", batch=batch, latency_repeats=1)
    assert report.standard and report.verified and report.max_abs_diff <= 1e-5
    folder = tmp_path / "out"
    assert not (folder / STUDIO_MANIFEST).exists()
    plain = AutoModelForSequenceClassification.from_pretrained(str(folder))
    assert plain.config.num_hidden_layers == 1 and plain.config.intermediate_size == 20
    torch.testing.assert_close(logits(plain, batch), logits(state.model, batch), atol=1e-6, rtol=1e-5)


def test_load_model_routes_an_export_to_the_loader(tiny_state, tmp_path, batch):
    prune_layer(tiny_state.model, 1, heads=[0, 1])
    folder = save_checkpoint(tiny_state, tmp_path / "ckpt")
    state = load_model(str(folder), num_labels=2)
    torch.testing.assert_close(logits(state.model, batch), logits(tiny_state.model, batch), atol=1e-6, rtol=1e-5)


def test_save_checkpoint_replaces_its_folder(tiny_state, tmp_path, batch):
    save_checkpoint(tiny_state, tmp_path / "ckpt")
    changed = copy.deepcopy(tiny_state.model)
    with torch.no_grad():
        changed.classifier.bias.add_(3.0)
    _, reloaded = roundtrip(tiny_state.replace(model=changed), tmp_path, batch)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_layers_shared_by_the_sharing_method(tiny_state, tmp_path, batch):
    import core.methods.sharing.layers as sharing
    sharing.tie_layers(tiny_state.model, [[0, 1]])
    _, reloaded = roundtrip(tiny_state, tmp_path, batch)
    assert sharing.shared_groups(reloaded.model) == [[0, 1]]
    assert reloaded.extras["shared_layers"] == [[0, 1]]
    assert count_parameters(reloaded.model) == count_parameters(tiny_state.model)
