"""The BiLSTM student as a tagger (#24): per-token logits, token-level distillation (KL or MSE, padding masked),
entity F1, dynamic int8, its folder and ONNX verified; the CNN and question answering refused before the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.applicability import recipe_problems, stack_problems
from core.methods.distillation.losses import IGNORED, task_distillation_loss, token_kd_loss, token_logit_mse
from core.models.students import BiLSTMConfig, BiLSTMForTokenClassification, build_student
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from tests.conftest import apply_method, method_context

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[2] / "resources" / "examples" / "tasks"
NER = DataRef(str(EXAMPLES / "ner.conll"), max_length=48, train_samples=48, validation_samples=16, test_samples=16)
SMALL = {"embedding_size": 16, "lstm_hidden_size": 12, "mlp_size": 10}


@pytest.fixture(scope="module")
def tagging():
    """The NER example's task, a tiny transformer tagger (the teacher) and its BiLSTM student."""
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer

    task = prepare_task(NER, load_tokenizer("tiny"), "token-classification")
    teacher = load_model("tiny", task.num_labels, label_names=task.label_names, task="token-classification", seed=1)
    return task, teacher


def _batch(task, n=8):
    from core.metrics.latency import fixed_batch

    return {k: v for k, v in fixed_batch(task, "train", n, NER.max_length).items()
            if k in ("input_ids", "attention_mask", "token_type_ids", "labels")}


def _student(tmp_path, tagging, **settings):
    task, teacher = tagging
    ctx = method_context(tmp_path, task, teacher)
    return apply_method("distill.student_init", teacher, ctx, architecture="bilstm", **{**SMALL, **settings}), ctx


def test_the_tagger_gives_one_row_per_token_whatever_the_padding():
    from core.models.loading import load_tokenizer

    tok = load_tokenizer("tiny")
    model = build_student(BiLSTMConfig(vocab_size=30522, embedding_size=16, hidden_size=12, mlp_size=10,
                                       num_labels=5, tokens=True)).eval()
    assert isinstance(model, BiLSTMForTokenClassification)
    texts = ["Ada Okafor visited Lagos", "no", "the jury in Paris met on Monday morning"]
    batch = tok(texts, padding=True, return_tensors="pt")
    labels = torch.full(batch["input_ids"].shape, IGNORED)
    labels[:, 1] = 2
    out = model(**batch, labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, 5) and torch.isfinite(out.loss)
    expected = torch.nn.functional.cross_entropy(out.logits[:, 1], labels[:, 1])  # only the labelled tokens count
    assert torch.isclose(out.loss, expected, atol=1e-6)
    for i, text in enumerate(texts):  # each sentence alone: the same tag logits at its own tokens
        alone = tok(text, return_tensors="pt")
        n = alone["input_ids"].shape[1]
        assert torch.allclose(model(**alone).logits[0], out.logits[i, :n], atol=1e-5)
    # the backward direction reads the sentence: a later word changes an earlier token's logits
    changed = tok(["Ada Okafor visited Rome"], return_tensors="pt")
    assert not torch.allclose(model(**changed).logits[0, 1], out.logits[0, 1])


def test_token_losses_leave_out_padding_and_unlabelled_pieces():
    s, t = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    keep = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=torch.bool)
    noisy_s, noisy_t = s.clone(), t.clone()
    noisy_s[~keep], noisy_t[~keep] = 100.0, -100.0  # what is not kept does not count
    assert torch.isclose(token_logit_mse(noisy_s, noisy_t, keep), token_logit_mse(s, t, keep))
    assert torch.isclose(token_logit_mse(s, t, keep), (s - t)[keep].pow(2).mean())
    assert torch.isclose(token_kd_loss(noisy_s, noisy_t, 2.0, keep), token_kd_loss(s, t, 2.0, keep))
    labels = torch.tensor([[0, IGNORED, IGNORED, IGNORED], [1, IGNORED, 2, IGNORED]])
    batch = {"attention_mask": torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]), "labels": labels}
    out = type("Out", (), {"logits": s})
    teacher = type("Out", (), {"logits": t})
    parts = task_distillation_loss("token-classification", out, teacher, batch, 2.0, 0.5, "mse")
    assert torch.isclose(parts["kd"], token_logit_mse(s, t, labels != IGNORED))


def test_student_init_on_a_token_task_builds_a_bilstm_tagger(tmp_path, tagging):
    from core.models.architecture import count_parameters
    from core.tasks.head_info import model_head

    task, teacher = tagging
    student, _ = _student(tmp_path, tagging)
    model = student.model
    assert isinstance(model, BiLSTMForTokenClassification) and model.config.tokens
    assert model.config.num_labels == task.num_labels and student.extras["student"]["tokens"]
    assert model_head(model)["task"] == "token-classification"
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    batch = _batch(task)
    assert model(**batch).logits.shape == (*batch["input_ids"].shape, task.num_labels)


@pytest.mark.parametrize("soft", ["kl", "mse"])
def test_token_level_distillation_into_the_bilstm_lowers_the_kd_loss(tmp_path, tagging, soft):
    from core.engine.task_metrics import evaluate_task

    task, teacher = tagging
    student, ctx = _student(tmp_path, tagging)
    batch = _batch(task, 16)
    with torch.no_grad():
        target = type("Out", (), {"logits": teacher.model.eval()(**{k: v for k, v in batch.items()
                                                                      if k != "labels"}).logits})

    def kd(model):
        with torch.no_grad():
            out = model.eval()(**{k: v for k, v in batch.items() if k != "labels"})
        return float(task_distillation_loss("token-classification", out, target, batch, 2.0, 0.0, soft)["kd"])

    before = kd(student.model)
    out = apply_method("distill.train", student, ctx, soft_loss=soft, alpha=0.0, max_steps=40, batch_size=16,
                       learning_rate=1e-2, warmup_ratio=0.0)
    assert kd(out.model) < 0.75 * before
    figures = evaluate_task(out.model, task, "validation", 16, NER).figures
    assert 0.0 <= figures["entity_f1"] <= 1.0


def test_the_tagger_after_dynamic_int8_reloads_and_exports_verified(tmp_path, tagging):
    from core.export.api import export_model
    from core.models.checkpoint import save_checkpoint
    from core.models.reload import load_model_folder

    task, _ = tagging
    student, ctx = _student(tmp_path, tagging)
    quantized = apply_method("quant.dynamic_int8", student, ctx, include_classifier=True)
    inputs = {k: v for k, v in _batch(task).items() if k != "labels"}
    for name, state in (("float", student), ("int8", quantized)):
        folder = save_checkpoint(state, tmp_path / name)
        reloaded = load_model_folder(folder)
        assert type(reloaded.model) is BiLSTMForTokenClassification
        assert torch.equal(reloaded.model(**inputs).logits, state.model(**inputs).logits)
    report = export_model(student, tmp_path / "onnx", "onnx", batch=inputs, latency_repeats=1, task=task, data=NER)
    assert report.verified and report.headline == "entity_f1"
    assert report.headline_export == pytest.approx(report.headline_model, abs=1e-6)
    import onnxruntime as ort

    session = ort.InferenceSession(str(next((tmp_path / "onnx").glob("*.onnx"))))
    feed = {i.name: inputs[i.name].numpy() for i in session.get_inputs()}
    logits = session.run(None, feed)[0]
    assert logits.shape == (*inputs["input_ids"].shape, task.num_labels)  # the token logits


def _recipe(task: str, architecture: str) -> Recipe:
    return Recipe(name="s", task=task, model=ModelRef("tiny"), data=NER, evaluation=EvaluationSettings(),
                  steps=[Step("distill.student_init", {"architecture": architecture}), Step("distill.train")])


def test_the_cnn_on_tokens_and_students_on_question_answering_are_refused_before_the_run():
    token = dict(stack_problems([("distill.student_init", {"architecture": "cnn"})], "bert",
                                task="token-classification"))
    assert "architecture: cnn cannot apply to a token-classification task" in token[0]
    assert "classifies whole sentences" in token[0]
    assert stack_problems([("distill.student_init", {"architecture": "bilstm"})], "bert",
                          task="token-classification") == []
    for arch, why in (("bilstm", "no answer-span head"), ("cnn", "classifies whole sentences")):
        qa = dict(stack_problems([("distill.student_init", {"architecture": arch})], "bert", task="question-answering"))
        assert f"architecture: {arch} cannot apply to a question-answering task" in qa[0] and why in qa[0]
    assert stack_problems([("distill.student_init", {})], "bert", task="question-answering") == []
    problems = recipe_problems(_recipe("token-classification", "cnn"), family="bert", quantized=False)
    assert [p.step for p in problems] == [0]
    assert recipe_problems(_recipe("token-classification", "bilstm"), family="bert", quantized=False) == []


def test_validate_refuses_a_cnn_tagger_and_accepts_a_bilstm_one(tmp_path, capsys):
    from core import cli

    for arch in ("cnn", "bilstm"):
        path = _recipe("token-classification", arch).save(tmp_path / f"{arch}.yaml")
        code = cli.main(["validate", str(path)])
        out = capsys.readouterr()
        if arch == "cnn":
            assert code != 0 and "architecture: cnn cannot apply to a token-classification task" in out.err
        else:
            assert code == 0, out.err


def test_distill_train_settings_a_task_cannot_take_are_refused_before_the_run():
    qa = dict(stack_problems([("distill.train", {"soft_loss": "mse"})], "bert", task="question-answering"))
    assert "soft_loss: mse cannot apply to a question-answering task" in qa[0]
    assert stack_problems([("distill.train", {"soft_loss": "mse"})], "bert", task="token-classification") == []
    tagged = dict(stack_problems([("distill.train", {"augment_copies": 2})], "bert", task="token-classification"))
    assert "augment_copies: above 0 cannot apply to a token-classification task" in tagged[0]
    assert stack_problems([("distill.train", {"augment_copies": 2})], "bert", task="sequence-classification") == []


def test_a_whole_token_recipe_tags_with_a_distilled_int8_bilstm(engine):
    from core.models.reload import load_model_folder

    recipe = Recipe(name="tagger", task="token-classification", model=ModelRef("tiny"), data=NER,
                    evaluation=EvaluationSettings(latency_repeats=1, latency_batch_size=4),
                    steps=[Step("finetune", {"max_steps": 2}),
                           Step("distill.student_init", {"architecture": "bilstm", **SMALL}),
                           Step("distill.train", {"soft_loss": "mse", "max_steps": 3, "batch_size": 16}),
                           Step("quant.dynamic_int8")])
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    res = result.results
    assert type(result.state.model).__name__ == "BiLSTMForTokenClassification" and result.state.quantized
    assert 0.0 <= res["entity_f1"] <= 1.0 and "baseline_entity_f1" in res
    assert res["parameters"] < res["baseline_parameters"]
    final = load_model_folder(result.workdir / "final")
    assert type(final.model).__name__ == "BiLSTMForTokenClassification" and final.quantized
    from core.models.architecture import count_parameters, describe

    info = describe(final.model)  # the inspector's view
    assert info["head"]["task"] == "token-classification" and info["parameters"] == count_parameters(final.model)
