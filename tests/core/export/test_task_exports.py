"""Exports of every task head: token classification, question answering, regression and multi-label.

Each head on BERT and DistilBERT: the ``hf`` folder loads with the task's
``AutoModelFor...`` class and gives the model's outputs; the ``onnx`` and
``onnx-int8`` graphs carry the head's outputs by transformers' names (``logits``,
or ``start_logits`` and ``end_logits``) with a sequence axis where the head
predicts per token, and match the torch model within the tolerances
:mod:`core.export.verify` states. Per-token outputs are compared at non-padding
positions only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import transformers

from core.errors import ExportError
from core.export import verify
from core.export.api import export_model, sample_batch
from core.models.folder import STUDIO_MANIFEST
from core.models.heads import MULTI_LABEL, QUESTION_ANSWERING, REGRESSION, SEQUENCE, TOKEN, output_names
from core.models.loading import load_tokenizer
from core.models.reload import load_model_folder
from core.models.surgery import keep_heads
from tests.core.export.task_models import HEADS, NEW_KINDS, task_state

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAMILIES = ("bert", "distilbert")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny")


def _state_and_batch(family, kind, tokenizer):
    from tests.core.methods.families import family_tokenizer

    batch = sample_batch(family_tokenizer(family, tokenizer), max_length=24)
    return task_state(family, kind, tokenizer, batch), batch


def _torch_outputs(model, batch, kind) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model.eval()(**batch)
    return {name: getattr(out, name).double().numpy() for name in output_names(kind)}


def _at_tokens(values: dict[str, np.ndarray], batch, kind) -> dict[str, np.ndarray]:
    """Per-token outputs at the non-padding positions (sentence outputs unchanged)."""
    if kind not in (TOKEN, QUESTION_ANSWERING):
        return values
    keep = batch["attention_mask"].numpy().astype(bool)
    return {name: value[keep] for name, value in values.items()}


@pytest.mark.parametrize("kind", NEW_KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_hf_export_loads_with_the_tasks_auto_class(family, kind, tokenizer, tmp_path):
    state, batch = _state_and_batch(family, kind, tokenizer)
    report = export_model(state, tmp_path / "hf", "hf", batch=batch, latency_repeats=1)
    assert report.standard and not (tmp_path / "hf" / STUDIO_MANIFEST).exists()
    assert report.task == kind and report.outputs == list(output_names(kind))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == [type(state.model).__name__]
    plain = getattr(transformers, HEADS[kind][0]).from_pretrained(str(tmp_path / "hf")).eval()
    assert type(plain) is type(state.model)
    assert plain.config.problem_type == state.model.config.problem_type
    expected, actual = _torch_outputs(state.model, batch, kind), _torch_outputs(plain, batch, kind)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-5, rtol=1e-4)
    assert f"{HEADS[kind][0]}.from_pretrained" in (tmp_path / "hf" / "README.md").read_text()


@pytest.mark.parametrize("kind", [TOKEN, QUESTION_ANSWERING])
def test_pruned_task_model_reloads_with_its_head(kind, tokenizer, tmp_path):
    """Heads removed from one layer: no config describes that, so the studio's manifest rebuilds the model,
    and the skeleton it starts from must carry the task's head (not a sentence classifier's)."""
    state, batch = _state_and_batch("bert", kind, tokenizer)
    keep_heads(state.model, {0: [0, 2]})
    report = export_model(state, tmp_path / "hf", "hf", batch=batch, latency_repeats=1)
    assert not report.standard and (tmp_path / "hf" / STUDIO_MANIFEST).is_file()
    reloaded = load_model_folder(tmp_path / "hf")
    assert type(reloaded.model) is type(state.model)
    expected, actual = _torch_outputs(state.model, batch, kind), _torch_outputs(reloaded.model, batch, kind)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-5, rtol=1e-4)


def _graph_outputs(file) -> dict[str, list]:
    import onnx

    graph = onnx.load(str(file), load_external_data=False).graph
    return {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}


def _agreement(kind, expected, actual, batch) -> float:
    """The share of the task's predictions that agree, computed here independently of core.export.verify."""
    keep = batch["attention_mask"].numpy().astype(bool)
    if kind == TOKEN:
        return float(np.mean(expected["logits"][keep].argmax(-1) == actual["logits"][keep].argmax(-1)))
    if kind == QUESTION_ANSWERING:
        return float(np.mean([np.where(keep, expected[n], -np.inf).argmax(-1) == np.where(keep, actual[n], -np.inf)
                              .argmax(-1) for n in expected]))
    if kind == MULTI_LABEL:
        return float(np.mean((expected["logits"] > 0) == (actual["logits"] > 0)))
    e, a = expected["logits"][:, 0], actual["logits"][:, 0]  # regression: pairs of rows in the same order
    i, j = np.triu_indices(len(e), k=1)
    return float(np.mean(np.sign(e[i] - e[j]) == np.sign(a[i] - a[j])))


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
@pytest.mark.parametrize("kind", NEW_KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_export_carries_the_tasks_outputs(family, kind, fmt, tokenizer, tmp_path):
    from core.export.onnx_session import OnnxRunner

    state, batch = _state_and_batch(family, kind, tokenizer)
    report = export_model(state, tmp_path / fmt, fmt, batch=batch, latency_repeats=1)
    names = output_names(kind)
    shapes = _graph_outputs(tmp_path / fmt / "model.onnx")
    assert list(shapes) == list(names) and report.outputs == list(names)
    for shape in shapes.values():  # a sequence axis where the head predicts per token, dynamic like the batch
        assert shape[:2] == (["batch", "sequence"] if kind in (TOKEN, QUESTION_ANSWERING) else ["batch", shape[1]])
    config = json.loads((tmp_path / fmt / "config.json").read_text())
    assert config["architectures"] == [type(state.model).__name__]
    # another batch size and sequence length than the graph was traced with
    small = {k: v[1:4, :11] for k, v in batch.items()}
    runner = OnnxRunner(tmp_path / fmt / "model.onnx")
    actual = runner.run(small)
    expected = _torch_outputs(state.model, small, kind)
    assert set(actual) == set(expected)
    if fmt == "onnx":
        assert report.max_abs_diff < 1e-4 and report.argmax_agreement == 1.0
        got, want = _at_tokens(actual, small, kind), _at_tokens(expected, small, kind)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-4, rtol=1e-3)
    else:
        assert report.argmax_agreement >= 0.8
        full = runner.run(batch)
        agreement = _agreement(kind, _torch_outputs(state.model, batch, kind), full, batch)
        assert agreement >= 0.8 and report.argmax_agreement == pytest.approx(agreement)
    assert report.tolerance == (verify.ONNX_FLOAT if fmt == "onnx" else verify.QUANTIZED).describe(kind)


def test_int4_export_of_a_tagger(tokenizer, tmp_path):
    state, batch = _state_and_batch("bert", TOKEN, tokenizer)
    report = export_model(state, tmp_path / "int4", "onnx-int4", batch=batch, latency_repeats=1)
    assert list(_graph_outputs(tmp_path / "int4" / "model.onnx")) == ["logits"]
    assert report.verified and report.argmax_agreement >= 0.8
    # the tagger's classifier works per token (a MatMul), so it is 4-bit too: no Gemm is said to stay in float
    assert any("MatMulNBits" in n for n in report.notes) and not any("Gemm" in n for n in report.notes)


# -- verification of per-token outputs, on arrays ---------------------------------------------------------

MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])


def _qa(start, end):
    return {"start_logits": np.array(start, dtype=float), "end_logits": np.array(end, dtype=float)}


def test_qa_verification_compares_both_outputs_at_non_padding_positions():
    expected = _qa([[0, 3, 1, 0], [2, 0, 0, 0]], [[0, 1, 3, 0], [0, 2, 0, 0]])
    padded = _qa([[0, 3, 1, 9], [2, 0, 9, 9]], [[0, 1, 3, 9], [0, 2, 9, 9]])  # only padding positions differ
    assert verify.compare(expected, padded, verify.ONNX_FLOAT, "qa", QUESTION_ANSWERING, MASK) == (0.0, 1.0)
    moved = _qa([[0, 3, 1, 0], [2, 0, 0, 0]], [[0, 1, 3, 0], [0, 2.5, 0, 0]])  # an end logit at a real position
    with pytest.raises(ExportError, match=r"largest output difference 0.5.*start and end logits at non-padding"):
        verify.compare(expected, moved, verify.ONNX_FLOAT, "qa", QUESTION_ANSWERING, MASK)
    flipped = _qa([[0, 3, 1, 0], [2, 0, 0, 0]], [[0, 4, 3, 0], [0, 2, 0, 0]])  # one of four positions moves
    with pytest.raises(ExportError, match="answer start and end positions agree on only 75%"):
        verify.compare(expected, flipped, verify.QUANTIZED, "qa", QUESTION_ANSWERING, MASK)
    half = verify.Tolerance("half", min_agreement=0.5)
    assert verify.compare(expected, flipped, half, "qa", QUESTION_ANSWERING, MASK) == (3.0, 0.75)
    with pytest.raises(ExportError, match="gives the outputs start_logits, the model start_logits, end_logits"):
        verify.compare(expected, {"start_logits": expected["start_logits"]}, verify.ONNX_FLOAT, "qa",
                       QUESTION_ANSWERING, MASK)


def test_token_verification_counts_tags_on_real_tokens_only():
    expected = np.zeros((2, 4, 3))
    expected[..., 1] = 1.0  # every token tagged 1
    actual = expected.copy()
    actual[0, 3] = actual[1, 2:] = [5.0, 0.0, 0.0]  # padding positions disagree, and by a lot
    actual[1, 0] = [2.0, 0.0, 0.0]  # one real token of five gets another tag
    diff, agreement = verify.compare(expected, actual, verify.QUANTIZED, "tagger", TOKEN, MASK)
    assert diff == 2.0 and agreement == pytest.approx(4 / 5)
    with pytest.raises(ExportError, match="predicted tag agrees on only 60% of non-padding tokens"):
        actual[0, 0] = [2.0, 0.0, 0.0]
        verify.compare(expected, actual, verify.QUANTIZED, "tagger", TOKEN, MASK)


def test_regression_and_multi_label_agreement():
    scores = np.array([[0.1], [0.5], [0.9], [0.3]])
    swapped = np.array([[0.1], [0.5], [0.28], [0.3]])  # 0.9 falls below 0.5 and 0.3: 2 of 6 pairs reorder
    with pytest.raises(ExportError, match="order of scores agrees on only 67% of pairs of rows"):
        verify.compare(scores, swapped, verify.QUANTIZED, "scorer", REGRESSION)
    shifted = scores + 0.05  # every score moves, the order stays: a scorer agrees
    assert verify.compare(scores, shifted, verify.QUANTIZED, "scorer", REGRESSION)[1] == 1.0
    labels = np.array([[2.0, -1.0, 0.5], [-2.0, 1.0, -0.5]])
    one_flip = np.array([[2.0, -1.0, -0.1], [-2.0, 1.0, -0.5]])
    assert verify.compare(labels, one_flip, verify.QUANTIZED, "tagger", MULTI_LABEL)[1] == pytest.approx(5 / 6)
    assert verify.compare(labels, one_flip, verify.QUANTIZED, "classifier", SEQUENCE)[1] == 1.0  # argmax kept


# -- tokenizer files that transformers 4.x loads -----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["hf", "onnx"])
def test_modernbert_export_names_its_source_tokenizer_class(fmt, tokenizer, tmp_path):
    """A ModernBERT folder's tokenizer loads in transformers 5 as TokenizersBackend, a class 4.x does not have;
    the export names the class the folder named (BertTokenizer)."""
    from core.models.loading import load_model
    from tests.core.methods.families import family_state

    user = family_state("modernbert", tokenizer)
    user.model.save_pretrained(tmp_path / "user")
    user.tokenizer.save_pretrained(tmp_path / "user")
    assert json.loads((tmp_path / "user" / "tokenizer_config.json").read_text())["tokenizer_class"] == "BertTokenizer"
    state = load_model(str(tmp_path / "user"), num_labels=2)
    assert type(state.tokenizer).__name__ == "TokenizersBackend"  # what 5.x would write into the export
    export_model(state, tmp_path / fmt, fmt, batch=sample_batch(state.tokenizer, 24), latency_repeats=1)
    written = json.loads((tmp_path / fmt / "tokenizer_config.json").read_text())
    assert written["tokenizer_class"] == "BertTokenizer"
    reloaded = transformers.AutoTokenizer.from_pretrained(str(tmp_path / fmt))
    sentences = ["A small miracle of a movie.", "Dull."]
    assert reloaded(sentences)["input_ids"] == state.tokenizer(sentences)["input_ids"]


def test_a_tokenizer_without_a_named_class_is_written_as_the_portable_fast_tokenizer(tokenizer, tmp_path):
    from core.models.checkpoint import PORTABLE_TOKENIZER, write_tokenizer

    backend = transformers.TokenizersBackend(tokenizer_object=tokenizer.backend_tokenizer, unk_token="[UNK]",
                                             pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
    write_tokenizer(backend, tmp_path / "tok", source="tiny")  # "tiny" is no folder: nothing names a class
    written = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert written["tokenizer_class"] == PORTABLE_TOKENIZER
    reloaded = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    assert reloaded("Too long, too loud.")["input_ids"] == backend("Too long, too loud.")["input_ids"]
