import json

import pytest
import torch

from core.errors import ModelLoadError
from core.models.architecture import count_parameters, describe, layer_shapes, serialized_size
from core.models.loading import load_model


def test_embedded_default_is_minilm():
    state = load_model("default", num_labels=2)
    info = describe(state.model)
    assert [l["heads"] for l in info["layers"]] == [12] * 6
    assert {l["ffn"] for l in info["layers"]} == {1536}
    assert info["hidden_size"] == 384
    assert 22_000_000 < info["parameters"] < 23_000_000
    assert info["by_component"]["embeddings"] > 11_000_000
    ids = state.tokenizer("a fine film", return_tensors="pt")
    assert state.model(**ids).logits.shape == (1, 2)


def test_tiny_model_counts_and_size(tiny_state):
    n = count_parameters(tiny_state.model)
    assert n == sum(p.numel() for p in tiny_state.model.parameters())
    assert layer_shapes(tiny_state.model) == [{"heads": 4, "head_size": 8, "ffn": 64}] * 2
    assert 4 * n <= serialized_size(tiny_state.model) < 4 * n + 200_000


def test_shared_tensors_are_counted_once(tiny_state):
    layers = tiny_state.model.bert.encoder.layer
    before = count_parameters(tiny_state.model)
    layers[1].intermediate.dense.weight = layers[0].intermediate.dense.weight
    assert count_parameters(tiny_state.model) == before - layers[0].intermediate.dense.weight.numel()


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path), 2)


def test_non_bert_model_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="BERT-family"):
        load_model(str(tmp_path), 2)


def test_config_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(str(tmp_path), 2)


def test_hub_name_offline_fails_fast_with_advice():
    with pytest.raises(ModelLoadError, match="offline"):
        load_model("bert-base-uncased", 2)


def test_local_folder_round_trip(tmp_path, tiny_state):
    tiny_state.model.save_pretrained(tmp_path)
    tiny_state.tokenizer.save_pretrained(tmp_path)
    again = load_model(str(tmp_path), 2)
    batch = {"input_ids": torch.tensor([[101, 2000, 102]])}
    tiny_state.model.eval()
    assert torch.allclose(again.model(**batch).logits, tiny_state.model(**batch).logits, atol=1e-6)
