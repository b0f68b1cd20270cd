"""BiLSTM and CNN students (#24) through the rest of the studio: their folder, ONNX, dynamic int8, a whole recipe,
the inspector's description."""

from __future__ import annotations

import json

import pytest
import torch

from core.export.api import export_model
from core.models.adapters import source_profile
from core.models.architecture import count_parameters, describe
from core.models.checkpoint import save_checkpoint
from core.models.reload import ExportLoadError, load_model_folder
from core.models.student_families import STUDENT_FILE
from core.recipe import Step
from tests.conftest import apply_method, method_context, tiny_recipe
from tests.core.methods.test_distillation_support import fixed_batch, tiny_bert

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"embedding_size": 16, "lstm_hidden_size": 12, "cnn_filters": 6, "cnn_widths": [2, 3], "mlp_size": 10}


@pytest.fixture(scope="module")
def students(tmp_path_factory, tiny_task):
    """A BiLSTM and a CNN student of a tiny teacher, each also after dynamic int8."""
    teacher = tiny_bert(layers=2)
    ctx = method_context(tmp_path_factory.mktemp("students"), tiny_task, teacher)
    out = {}
    for arch in ("bilstm", "cnn"):
        student = apply_method("distill.student_init", teacher, ctx, architecture=arch, **SMALL)
        out[arch] = student
        out[f"{arch}-int8"] = apply_method("quant.dynamic_int8", student, ctx, include_classifier=True)
    return out


def _inputs(task):
    return {k: v for k, v in fixed_batch(task, 8).items() if k != "labels"}


@pytest.mark.parametrize("name", ["bilstm", "cnn", "bilstm-int8", "cnn-int8"])
def test_a_student_folder_reloads_through_the_studios_loader(tmp_path, tiny_task, students, name):
    state = students[name]
    folder = save_checkpoint(state, tmp_path / name)
    assert (folder / STUDENT_FILE).is_file() and (folder / "model.safetensors").is_file()
    assert not (folder / "config.json").exists()  # no transformers class builds it: nothing may pretend one does
    reloaded = load_model_folder(folder)
    assert type(reloaded.model) is type(state.model) and reloaded.quantized == name.endswith("int8")
    assert count_parameters(reloaded.model) == count_parameters(state.model)
    batch = _inputs(tiny_task)
    assert torch.equal(reloaded.model(**batch).logits, state.model(**batch).logits)
    assert source_profile(str(folder)) == (name.split("-")[0], name.endswith("int8"))
    manifest = json.loads((folder / STUDENT_FILE).read_text())
    assert manifest["config"]["architectures"] == [type(state.model).__name__]
    if name.endswith("int8"):
        kinds = {e["path"]: e["kind"] for e in manifest["modules"]}
        assert kinds["mlp"] == kinds["classifier"] == "dynamic_int8"  # the linears, as int8
        if name.startswith("bilstm"):  # and the LSTMs, as int8 codes and scales (no pickled packed weights)
            assert kinds["forward_lstm"] == kinds["backward_lstm"] == "dynamic_int8_lstm"


def test_a_damaged_student_folder_is_refused_with_the_reason(tmp_path, students):
    folder = save_checkpoint(students["cnn"], tmp_path / "cnn")
    manifest = json.loads((folder / STUDENT_FILE).read_text())
    (folder / STUDENT_FILE).write_text(json.dumps({**manifest, "weights": "model.bin"}))
    with pytest.raises(ExportLoadError, match="only model.safetensors"):
        load_model_folder(folder)
    (folder / STUDENT_FILE).write_text(json.dumps({**manifest, "config": {**manifest["config"], "model_type": "gru"}}))
    with pytest.raises(ExportLoadError, match="unknown student architecture 'gru'"):
        load_model_folder(folder)


@pytest.mark.parametrize("name,fmt", [("bilstm", "hf"), ("bilstm", "onnx"), ("bilstm", "onnx-int8"),
                                      ("cnn", "onnx"), ("cnn", "onnx-int8"), ("bilstm-int8", "onnx")])
def test_student_exports_are_verified_after_reload(tmp_path, tiny_task, students, name, fmt):
    state = students[name]
    report = export_model(state, tmp_path / f"{name}-{fmt}", fmt, batch=_inputs(tiny_task), latency_repeats=1)
    assert report.verified and report.argmax_agreement == 1.0
    if fmt == "onnx" and not state.quantized:
        assert report.max_abs_diff < 1e-4
    if fmt == "hf":
        assert report.max_abs_diff == 0.0 and any("studio_student.json" in n for n in report.notes)
        assert load_model_folder(tmp_path / f"{name}-{fmt}").model.config.model_type == "bilstm"
    else:
        from core.export.onnx_session import OnnxRunner

        runner = OnnxRunner(tmp_path / f"{name}-{fmt}" / "model.onnx")
        longer = {k: torch.cat([v, v], 0) for k, v in _inputs(tiny_task).items()}  # another batch size
        assert tuple(runner(**longer).shape) == (16, 2)


def test_the_inspectors_description_lists_a_students_parameters(students):
    for name in ("bilstm", "cnn-int8"):
        info = describe(students[name].model)
        assert info["model_type"] == name.split("-")[0] and info["layers"] == []
        assert info["parameters"] == count_parameters(students[name].model)
        assert info["by_component"]["embeddings"] > 0 and info["by_component"]["head"] > 0
        assert info["head"]["task"] == "sequence-classification"


def test_a_whole_recipe_builds_distils_and_quantizes_a_bilstm_student(engine):
    recipe = tiny_recipe(
        Step("finetune", {"max_steps": 3, "learning_rate": 5e-3}),
        Step("distill.student_init", {"architecture": "bilstm", **SMALL}),
        Step("distill.train", {"soft_loss": "mse", "alpha": 0.0, "max_steps": 4, "batch_size": 16,
                               "learning_rate": 5e-3, "augment_copies": 1}),
        Step("quant.dynamic_int8"),
    )
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    assert type(result.state.model).__name__ == "BiLSTMForSequenceClassification" and result.state.quantized
    res = result.results
    assert res["parameters"] < res["baseline_parameters"]
    assert 0.0 <= res["accuracy"] <= 1.0
    final = load_model_folder(result.workdir / "final")
    assert final.quantized and final.model.config.model_type == "bilstm"


def test_the_engine_refuses_a_transformer_method_after_a_student_step_before_running(engine):
    recipe = tiny_recipe(Step("distill.student_init", {"architecture": "cnn"}), Step("prune.heads"))
    result = engine.run(recipe)
    assert result.status == "failed"
    assert "prune.heads cannot apply to a CNN student (cnn)" in result.error
    assert not (result.workdir / "final").exists()


def test_dynamic_int8_quantizes_the_lstms_and_still_counts_their_weights(students):
    from core.models.quantized_lstm import is_quantized_lstm

    float_model, int8 = students["bilstm"].model, students["bilstm-int8"].model
    assert is_quantized_lstm(int8.forward_lstm) and is_quantized_lstm(int8.backward_lstm)
    assert count_parameters(int8) == count_parameters(float_model)
    # int8 codes (a quarter of the float bytes) plus per-channel scales, large beside a tiny LSTM
    assert describe(int8)["bytes_by_component"]["other"] < describe(float_model)["bytes_by_component"]["other"] * 0.7


def test_a_student_folder_is_a_recipe_source_and_refuses_transformer_methods_before_loading(tmp_path, students,
                                                                                           engine):
    import dataclasses

    from core.applicability import recipe_problems
    from core.models.loading import load_model
    from core.errors import ModelLoadError
    from core.recipe import ModelRef

    folder = save_checkpoint(students["cnn"], tmp_path / "cnn")
    recipe = dataclasses.replace(tiny_recipe(Step("prune.ffn"), Step("finetune", {"max_steps": 2})),
                                 model=ModelRef(str(folder)))
    problems = recipe_problems(recipe)
    assert [p.step for p in problems] == [0] and "CNN student (cnn)" in str(problems[0])
    with pytest.raises(ModelLoadError, match="has 2 outputs but the data has 3 labels"):
        load_model(str(folder), 3)
    run = engine.run(dataclasses.replace(recipe, steps=[Step("finetune", {"max_steps": 2, "learning_rate": 1e-3})]))
    assert run.status == "finished", run.error
    assert type(run.state.model).__name__ == "CNNForSequenceClassification"


@pytest.mark.parametrize("family", ["bilstm", "cnn"])
def test_siamese_pair_students_export_to_onnx_and_onnx_int8(tmp_path, family):
    from core.export.onnx_session import OnnxRunner
    from core.models.loading import load_tokenizer
    from core.models.state import ModelState
    from core.models.students import BiLSTMConfig, CNNConfig, build_student

    tok = load_tokenizer("tiny")
    common = dict(vocab_size=30522, embedding_size=16, mlp_size=8, pair=True)
    config = BiLSTMConfig(hidden_size=8, **common) if family == "bilstm" else CNNConfig(filters=4, widths=[2, 3], **common)
    state = ModelState(model=build_student(config).eval(), tokenizer=tok)
    batch = dict(tok(["a good film", "bad", "the plot drags on and on"], ["very good", "not bad at all", "no"],
                     padding=True, return_tensors="pt"))
    alone = dict(tok("bad", "not bad at all", return_tensors="pt"))
    for fmt in ("onnx", "onnx-int8"):
        report = export_model(state, tmp_path / fmt, fmt, batch=batch, latency_repeats=1)
        assert report.verified
        runner = OnnxRunner(tmp_path / fmt / "model.onnx")
        got = torch.as_tensor(runner(**alone))[0]
        assert torch.allclose(got, state.model(**alone).logits[0], atol=1e-5 if fmt == "onnx" else 0.05)


def test_the_step_cache_keeps_and_resumes_a_student(tmp_path, tiny_task):
    from core.engine import Engine
    from core.engine.cache import StepCache

    cache = StepCache(tmp_path / "cache")
    engine = Engine(workdir_root=tmp_path / "runs", cache=cache)
    recipe = tiny_recipe(Step("finetune", {"max_steps": 2, "learning_rate": 5e-3}),
                         Step("distill.student_init", {"architecture": "bilstm", **SMALL}),
                         Step("distill.train", {"soft_loss": "mse", "max_steps": 2, "batch_size": 16}),
                         Step("quant.dynamic_int8"))
    longer = tiny_recipe(*recipe.steps, Step("evaluate"))
    assert cache.expect([recipe, longer]) == 4  # a study's plan: both share their first four steps
    first = engine.run(recipe, task=tiny_task)
    assert first.status == "finished", first.error
    assert cache.lookup(recipe)[0] == 4  # every step's model stored, the students' (the int8 one too) included
    assert cache.lookup(longer)[0] == 4  # the longer stack resumes from the stored int8 student
    again = engine.run(longer, task=tiny_task)
    assert again.status == "finished", again.error
    assert again.results["accuracy"] == first.results["accuracy"]
    assert type(again.state.model).__name__ == "BiLSTMForSequenceClassification" and again.state.quantized


def test_a_sentence_pair_recipe_distils_a_siamese_bilstm_on_a_transfer_set(tmp_path, engine):
    import dataclasses

    from core.recipe import DataRef

    words = ["good", "bad", "fine", "poor", "great", "awful"]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"a": f"the film was {words[i % 6]} today", "b": f"a {words[(i * 5) % 6]} one",
                                          "y": i % 2}) for i in range(60)))
    recipe = dataclasses.replace(
        tiny_recipe(Step("finetune", {"max_steps": 2, "learning_rate": 5e-3}),
                    Step("distill.student_init", {"architecture": "bilstm", **SMALL}),
                    Step("distill.train", {"max_steps": 3, "batch_size": 8, "augment_copies": 2})),
        data=DataRef(source=str(path), text_column="a", text_pair_column="b", label_column="y", max_length=24))
    run = engine.run(recipe)
    assert run.status == "finished", run.error
    assert run.state.model.config.pair and run.state.model.mlp.in_features == 4 * 2 * 12
