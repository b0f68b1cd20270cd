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


def _save(state, folder, tokenizer=True):
    state.model.save_pretrained(folder)
    if tokenizer:
        state.tokenizer.save_pretrained(folder)
    return folder


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_weights_that_disagree_with_the_config_are_refused(tmp_path, tiny_state):
    _edit_config(_save(tiny_state, tmp_path), intermediate_size=48)
    with pytest.raises(ModelLoadError) as info:
        load_model(str(tmp_path), 2)
    message = str(info.value)
    assert "do not fit its config.json" in message
    assert "bert.encoder.layer.0.intermediate.dense.weight is [64, 32] in the weights but [48, 32]" in message


def test_a_new_head_for_another_number_of_labels_keeps_the_encoder(tmp_path):
    three = load_model("tiny", 3, seed=1)
    _save(three, tmp_path)
    two = load_model(str(tmp_path), 2, label_names=["bad", "good"])
    assert two.model.classifier.out_features == 2
    assert two.model.config.id2label == {0: "bad", 1: "good"} and two.model.config.label2id == {"bad": 0, "good": 1}
    for name, tensor in three.model.bert.state_dict().items():
        assert torch.equal(tensor, two.model.bert.state_dict()[name]), name


def test_folder_without_tokenizer_files_is_refused(tmp_path, tiny_state):
    _save(tiny_state, tmp_path, tokenizer=False)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    with pytest.raises(ModelLoadError, match=f"no tokenizer files in {tmp_path}: it needs one of tokenizer.json"):
        load_model(str(tmp_path), 2)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "holds a JSON list; a model configuration is a JSON object"),
    ('"bert"', "holds a JSON str"),
    ("{bad", "is not valid JSON"),
    ('{"model_type": ["bert"]}', "BERT-family"),
])
def test_config_that_is_not_an_object_is_refused(tmp_path, tiny_state, text, message):
    _save(tiny_state, tmp_path)
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ModelLoadError, match=message.replace("[", r"\[")):
        load_model(str(tmp_path), 2)


@pytest.mark.parametrize("source", [5, None, ["default"], ""])
def test_a_source_that_is_not_text_is_refused(source):
    with pytest.raises(ModelLoadError, match="model source must be"):
        load_model(source, 2)


def test_pickled_weights_are_refused_unopened(tmp_path, tiny_state):
    tiny_state.model.config.save_pretrained(tmp_path)
    torch.save(tiny_state.model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="only as pytorch_model.bin: pickle-based files can run code"):
        load_model(str(tmp_path), 2)


def test_a_tokenizer_that_reads_the_data_as_unknown_is_refused(tmp_path):
    from transformers import BertTokenizerFast

    from core.data.task import prepare_task
    from core.recipe import DataRef

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "zebra"]))
    tokenizer = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    with pytest.raises(ModelLoadError, match=r"reads 100% of the tokens .* as '\[UNK\]'"):
        prepare_task(DataRef(train_samples=50, validation_samples=20, test_samples=20), tokenizer)
