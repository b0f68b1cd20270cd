"""Export and reload, family by family: every encoder family the loader accepts, compressed, in every format.

For each family a tiny random model is first fitted for a few steps to the
eight sample sentences (so its predictions depend on the input and a broken
export cannot pass by giving every row the same logits), then compressed two
ways:

- ``uniform``: the FFN narrowed alike in every layer (MobileBERT, whose FFN
  stack cannot be narrowed: one layer removed), a shape its config describes,
  so the Hugging Face folder is standard and plain ``transformers`` loads it;
- ``per-layer``: two heads removed from the first layer only (DeBERTa v1,
  whose heads cannot go: the first layer's FFN narrowed alone), which no
  config describes, so the folder carries the studio's manifest, plain
  ``transformers`` refuses it and the studio's loader rebuilds it;

and a third way for the Hugging Face folder alone, ``int8`` (torch dynamic
int8 of the uniform model). DeBERTa-v3's layout (``share_att_key``) runs beside the families'
own tiny configs. Each export goes through ``export_model`` (which
verifies it itself); the tests then reload what was written independently of
the studio's verification and hold it to the tolerances the verification
states (:mod:`core.export.verify`).

The whole file runs in about a minute on two cores; the fitted models are
built once per module.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from core.errors import ExportError
from core.export.api import export_model, sample_batch
from core.export.verify import EXACT, ONNX_FLOAT, QUANTIZED
from core.applicability import applicability
from core.models.adapters import families
from core.models.architecture import count_parameters, layer_shapes
from core.models.folder import BERT_FAMILY, STUDIO_MANIFEST
from core.models.loading import load_model, load_tokenizer
from core.models.surgery import ffn_widths, keep_ffn, keep_heads, keep_layers
from tests.core.methods.families import FAMILIES, family_state

# the eight sample sentences alternate a positive and a negative review
LABELS = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0])
VARIANTS = ("uniform", "per-layer")
# DeBERTa-v3's layout (share_att_key, bucketed positions) beside the families' own tiny configs
CASES = (*FAMILIES, "deberta-v3")


def test_every_family_the_loader_accepts_is_covered():
    assert set(FAMILIES) == set(BERT_FAMILY) == set(families())


def _fit(model, batch, steps: int = 12) -> None:
    """A few AdamW steps on the sample sentences, word embeddings frozen (their gradient is most of the cost)."""
    embeddings = model.get_input_embeddings().weight
    embeddings.requires_grad_(False)
    torch.manual_seed(0)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(steps):
        loss = model(**batch, labels=LABELS).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    embeddings.requires_grad_(True)
    model.eval()


def _compress(family: str, model, variant: str) -> None:
    before = count_parameters(model)
    if variant == "uniform":
        if applicability("prune.ffn", family) is None:
            keep_ffn(model, {i: range(48) for i in range(len(ffn_widths(model)))})
        else:  # MobileBERT
            keep_layers(model, [0])
    elif applicability("prune.heads", family) is None:
        keep_heads(model, {0: [0, 2]})
    else:  # DeBERTa v1
        keep_ffn(model, {0: range(40)})
    assert count_parameters(model) < before


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fitted(one_torch_thread):
    """``{family: ModelState}``: each family's tiny model fitted to the sample sentences (tests compress copies)."""
    tokenizer = load_tokenizer("tiny")
    out = {}
    for family in CASES:
        state = _state(family, tokenizer)
        _fit(state.model, _batch(state))
        out[family] = state
    return out


def _state(case: str, tokenizer):
    if case != "deberta-v3":
        return family_state(case, tokenizer)
    from core.models.state import ModelState
    from tests.core.test_deberta_v3 import v3_model

    return ModelState(model=v3_model(), tokenizer=tokenizer, source="tiny-deberta-v3")


def _batch(state, max_length: int = 24):
    return sample_batch(state.tokenizer, max_length=max_length)


def _variant(fitted, case: str, variant: str):
    state = fitted[case]
    family = state.model.config.model_type
    state = state.replace(model=copy.deepcopy(state.model))
    if variant == "int8":
        from core.methods.quantization.dynamic import quantize_dynamic_int8

        _compress(family, state.model, "uniform")
        return state.replace(model=quantize_dynamic_int8(state.model), quantized=True)
    _compress(family, state.model, variant)
    return state


def _logits(model, batch) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(**batch).logits.double().numpy()


def _within(actual, expected, tol) -> None:
    np.testing.assert_allclose(actual, expected, atol=tol.atol, rtol=tol.rtol)


@pytest.mark.parametrize("variant", ["uniform", "per-layer", "int8"])
@pytest.mark.parametrize("family", CASES)
def test_hugging_face_folder(family, variant, fitted, tmp_path):
    from transformers import AutoModelForSequenceClassification

    state = _variant(fitted, family, variant)
    batch = _batch(state)
    expected = _logits(state.model, batch)
    assert len(set(expected.argmax(-1))) == 2  # the model tells the sentences apart
    report = export_model(state, tmp_path / "hf", "hf", batch=batch, latency_repeats=1)
    folder = tmp_path / "hf"
    standard = variant == "uniform"
    assert report.verified and report.standard is standard
    assert (folder / STUDIO_MANIFEST).is_file() is not standard
    if standard:  # the promise of a standard folder: plain transformers, nothing of the studio
        plain = AutoModelForSequenceClassification.from_pretrained(str(folder))
        assert type(plain) is type(state.model)
        _within(_logits(plain, batch), expected, EXACT)
        assert layer_shapes(plain) == layer_shapes(state.model)
        return
    if variant == "per-layer":  # a shape no config describes: plain transformers refuses it, and says so
        with pytest.raises(RuntimeError, match="mismatch"):
            AutoModelForSequenceClassification.from_pretrained(str(folder))
    reloaded = load_model(str(folder), num_labels=2)
    assert type(reloaded.model) is type(state.model) and reloaded.quantized is (variant == "int8")
    assert layer_shapes(reloaded.model) == layer_shapes(state.model)
    _within(_logits(reloaded.model, batch), expected, EXACT)


def _session(folder):
    import onnxruntime as ort

    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])


def _run(session, batch) -> np.ndarray:
    feed = {i.name: batch[i.name].numpy().astype(np.int64) for i in session.get_inputs()}
    return session.run(["logits"], feed)[0].astype(np.float64)


@pytest.mark.parametrize("family", CASES)
def test_onnx(family, fitted, tmp_path):
    state = _variant(fitted, family, "per-layer")
    batch = _batch(state)
    report = export_model(state, tmp_path / "onnx", "onnx", batch=batch, latency_repeats=1)
    assert report.verified and report.tolerance == ONNX_FLOAT.describe()
    session = _session(tmp_path / "onnx")
    _within(_run(session, batch), _logits(state.model, batch), ONNX_FLOAT)
    # other batch sizes and lengths than the graph was traced with, shorter and longer
    for other in ({k: v[:3, :11] for k, v in batch.items()}, _batch(state, max_length=40)):
        _within(_run(session, other), _logits(state.model, other), ONNX_FLOAT)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("family", CASES)
def test_onnx_runtime_int8(family, variant, fitted, tmp_path, monkeypatch):
    """ONNX Runtime's BERT fusion runs first, per-layer head counts included (read from the graph), except on
    MobileBERT's bottleneck attention."""
    import onnx

    import core.export.onnx_export as onnx_export

    # whether the fused graph is kept depends on timing it against the unfused one; here it is made the faster
    # so the test sees what the fusion itself does to each family (the choice: tests/core/export/test_onnx_fusion.py)
    monkeypatch.setattr(onnx_export, "_ms_per_batch", lambda files, sample: {"fused": 10.0, "unfused": 20.0})

    state = _variant(fitted, family, variant)
    batch = _batch(state)
    expected = _logits(state.model, batch)
    assert len(set(expected.argmax(-1))) == 2  # agreement below would mean something
    report = export_model(state, tmp_path / "int8", "onnx-int8", batch=batch, latency_repeats=1)
    assert report.verified and report.tolerance == QUANTIZED.describe()
    graph = onnx.load(str(tmp_path / "int8" / "model.onnx"))
    assert any(node.op_type in ("DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul")
               for node in graph.graph.node), "no int8 operator in the graph"
    actual = _run(_session(tmp_path / "int8"), batch)
    agreement = float(np.mean(actual.argmax(-1) == expected.argmax(-1)))
    assert agreement >= QUANTIZED.min_agreement and report.argmax_agreement == pytest.approx(agreement)
    assert report.max_abs_diff == pytest.approx(float(np.max(np.abs(actual - expected))), rel=1e-4)
    fused = any("fusion applied" in note for note in report.notes)
    # BERT fusion works on the hidden width (not MobileBERT's bottleneck); pruned layers' head counts are pinned
    assert fused is (family != "mobilebert"), report.notes
    if family in ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert"):  # pruned heads too
        assert any("attention fused in all 2 layers" in note for note in report.notes), report.notes
    if family == "deberta" and fused:  # its position MatMuls become constant 4-D tensors once fused
        assert any("kept in float" in note for note in report.notes), report.notes


def test_an_export_failure_names_the_family(fitted, tmp_path, monkeypatch):
    """A format a model cannot take is refused with the family and the exporter's reason; nothing is left."""
    import core.export.onnx_export as onnx_export

    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported operator aten::something")

    monkeypatch.setattr(onnx_export.torch.onnx, "export", refuse)
    state = _variant(fitted, "modernbert", "per-layer")
    with pytest.raises(ExportError, match=r"onnx export of the ModernBERT \(modernbert\) model: .*converted to ONNX"
                                          r".*aten::something"):
        export_model(state, tmp_path / "onnx", "onnx", batch=_batch(state), latency_repeats=1)
    assert not (tmp_path / "onnx").exists()

