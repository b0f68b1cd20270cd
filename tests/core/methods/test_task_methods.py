"""Every method on every task where it applies: importance from the task's own loss, the distillation terms of
each task kind (checked against a hand computation), students that keep the task head, vocabulary pruning that
counts questions and contexts, and the refusal of a method a task cannot take, before the run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from core.methods.distillation.task import DistillSettings, make_loss
from core.models.architecture import count_parameters, layers_of
from core.models.surgery import ffn_widths, head_counts
from core.tasks.kinds import TaskKind
from tests.conftest import apply_method, method_context
from tests.core.methods.task_kinds import KINDS, kind_model, kind_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOKEN, QA, REGRESSION, MULTI = KINDS


@pytest.fixture
def loss_validation(monkeypatch):
    """Training validates with the task's loss (the task spine brings each task's figures to core.engine.training;
    main's validation measures argmax accuracy, which these heads have none of)."""
    from core.engine import training
    from core.methods.task_measure import evaluate_loss

    def validate(ctx, model, settings, data):
        result = evaluate_loss(model, data.loader("validation", 16, limit=settings.eval_samples), ctx.check)
        ctx.metric("val/loss", result["loss"])
        return result

    monkeypatch.setattr(training, "validate", validate)


def _batch(task, n: int = 6) -> dict:
    return next(iter(task.loader("train", n)))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_head_and_ffn_pruning_score_by_the_task_loss_and_cut(kind, tmp_path):
    from core.methods.pruning.importance import ffn_taylor_importance, head_gradient_importance

    task, state = kind_task(kind), kind_model(kind)
    model = state.model
    batch = _batch(task)
    scores = head_gradient_importance(model, [batch])
    assert all(v > 0 for row in scores for v in row)  # every head moves the task's loss
    # the scores follow the task's targets: other targets, another loss, other scores
    assert not torch.allclose(torch.tensor(head_gradient_importance(model, [_other_targets(batch, kind)])),
                              torch.tensor(scores))
    assert all(v > 0 for row in ffn_taylor_importance(model, [batch]) for v in row)
    ctx = method_context(tmp_path, task, state)
    before = count_parameters(model)
    state = apply_method("prune.heads", state, ctx, amount=0.5, batches=2, batch_size=8)
    assert sum(head_counts(state.model)) == 4 and count_parameters(state.model) < before
    before = count_parameters(state.model)
    state = apply_method("prune.ffn", state, ctx, amount=0.5, batches=2, batch_size=8)
    assert ffn_widths(state.model) == [32, 32] and count_parameters(state.model) < before
    out = state.model(**_batch(task))
    assert torch.isfinite(out.loss)


def _other_targets(batch: dict, kind: TaskKind) -> dict:
    out = dict(batch)
    if kind is TOKEN:
        labels = batch["labels"]
        out["labels"] = torch.where(labels == -100, labels, (labels + 1) % int(labels.max() + 1))
    elif kind is QA:
        out["start_positions"] = batch["start_positions"].flip(0)
        out["end_positions"] = batch["end_positions"].flip(0)
    elif kind is REGRESSION:
        out["labels"] = batch["labels"] * -3.0
    else:
        out["labels"] = 1.0 - batch["labels"]
    return out


@pytest.mark.parametrize("kind", (QA, REGRESSION), ids=lambda k: k.value)
def test_layer_pruning_and_sensitivity_compare_the_tasks_loss(kind, tmp_path):
    from core.methods.pruning.structured import SENSITIVITY_KEY
    from core.methods.task_measure import evaluate_loss

    task, state = kind_task(kind), kind_model(kind, layers=3)
    ctx = method_context(tmp_path, task, state)
    analysed = apply_method("analyze.sensitivity", state, ctx, measure="accuracy_drop", eval_samples=8)
    result = analysed.extras[SENSITIVITY_KEY]
    assert result["metric"] == "loss_increase" and "heads_accuracy_drop" not in result
    base = evaluate_loss(state.model, task.loader("validation", 64, limit=8))["loss"]
    assert result["baseline_loss"] == pytest.approx(base, rel=1e-5)
    assert len(result["layers"]) == 3 and any(v != 0 for v in result["layers"])
    pruned = apply_method("prune.layers", state, ctx, strategy="least_important", keep=2, eval_samples=8)
    kept = pruned.extras.get("layers")
    assert len(layers_of(pruned.model)) == 2
    worst = min(range(3), key=lambda i: result["layers"][i])  # the layer whose removal costs the least loss goes
    assert ctx.events and any(f"kept layers {[i for i in range(3) if i != worst]}" in getattr(e, "message", "")
                              for e in ctx.events), kept


def _kl(p_logits, q_logits, t):
    """KL(softmax(q / t) || softmax(p / t)) of one distribution, by hand."""
    p = torch.softmax(p_logits / t, -1)
    q = torch.softmax(q_logits / t, -1)
    return float((q * (q.log() - p.log())).sum())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_each_tasks_distillation_loss_is_the_hand_computation(kind):
    task = kind_task(kind)
    student, teacher = kind_model(kind, seed=1).model, kind_model(kind, seed=2).model
    batch = _batch(task)
    t, alpha = 2.0, 0.3
    cfg = DistillSettings(temperature=t, alpha=alpha)
    loss = float(make_loss(teacher, cfg, None, kind=kind.value)(student, batch).detach())
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        s, te = student(**inputs), teacher(**inputs)
        hard = float(student(**batch).loss)  # each head's own loss on the task's targets
    mask = batch["attention_mask"]
    if kind is TOKEN:
        terms = [_kl(s.logits[b, i], te.logits[b, i], t) for b in range(mask.shape[0]) for i in range(mask.shape[1])
                 if mask[b, i] and batch["labels"][b, i] != -100]
        assert len(terms) < int(mask.sum())  # special tokens and later pieces are out
        soft = sum(terms) / len(terms) * t * t
        real = [_kl(s.logits[b, i], te.logits[b, i], t) for b in range(mask.shape[0]) for i in range(mask.shape[1])
                if mask[b, i]]
        unlabelled = sum(real) / len(real) * t * t  # without labels: every real token
    elif kind is QA:
        def side(sl, tl):  # softmax over the real positions only
            real = [int(n) for n in mask.sum(-1)]
            return sum(_kl(sl[b, :n], tl[b, :n], t) for b, n in enumerate(real)) / len(real)
        soft = (side(s.start_logits, te.start_logits) + side(s.end_logits, te.end_logits)) / 2 * t * t
    elif kind is REGRESSION:
        soft = float(((s.logits.squeeze(-1) - te.logits.squeeze(-1)) ** 2).mean())
    else:
        q = torch.sigmoid(te.logits / t)
        p = torch.sigmoid(s.logits / t)
        soft = float(-(q * p.log() + (1 - q) * (1 - p).log()).mean()) * t * t
    assert loss == pytest.approx(alpha * hard + (1 - alpha) * soft, rel=1e-4)
    # without targets the teacher's term is the whole loss
    pure = float(make_loss(teacher, cfg, None, kind=kind.value)(student, inputs).detach())
    assert pure == pytest.approx(unlabelled if kind is TOKEN else soft, rel=1e-4)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_distill_train_runs_a_few_steps_on_each_task(kind, tmp_path, loss_validation):
    task = kind_task(kind)
    teacher, student = kind_model(kind, seed=2), kind_model(kind, seed=1)
    ctx = method_context(tmp_path, task, student, teacher=teacher)
    start = [p.detach().clone() for p in student.model.parameters()]
    out = apply_method("distill.train", student, ctx, max_steps=3, batch_size=8, learning_rate=1e-3,
                       hidden_weight=1.0)
    assert len(ctx.seen["distill/loss"]) == 3 and all(torch.isfinite(torch.tensor(v)) for v in ctx.seen["distill/loss"])
    assert ctx.seen["distill/kd_loss"] and ctx.seen["distill/hidden_loss"]
    assert any(not torch.equal(a, b) for a, b in zip(start, out.model.parameters()))


HEADS = {TOKEN: "classifier", QA: "qa_outputs", REGRESSION: "classifier", MULTI: "classifier"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_a_student_keeps_the_task_head(kind, tmp_path):
    task = kind_task(kind)
    teacher = kind_model(kind, layers=4)
    ctx = method_context(tmp_path, task, teacher)
    batch = {k: v for k, v in _batch(task).items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    student = apply_method("distill.student_init", teacher, ctx).model
    head = HEADS[kind]
    assert type(student) is type(teacher.model) and len(layers_of(student)) == 2
    s_head, t_head = getattr(student, head), getattr(teacher.model, head)
    s_head = s_head.out_proj if hasattr(s_head, "out_proj") else s_head
    t_head = t_head.out_proj if hasattr(t_head, "out_proj") else t_head
    assert torch.equal(s_head.weight, t_head.weight)  # the teacher's trained head, as it was
    config = apply_method("distill.student_init", teacher, ctx, mode="config", num_layers=1, hidden_size=16,
                          num_heads=2, intermediate_size=32, init_layers=True).model
    with torch.no_grad():
        outs = [m(**batch) for m in (teacher.model, student, config)]
    for name in ("start_logits", "end_logits") if kind is QA else ("logits",):
        assert {tuple(getattr(o, name).shape) for o in outs} == {tuple(getattr(outs[0], name).shape)}


@dataclass
class _Ref:
    max_length: int = 64


def test_vocabulary_pruning_counts_questions_and_contexts(tmp_path):
    from core.methods.pruning.vocabulary import VOCABULARY_KEY, untruncated_ids

    task = kind_task(QA)
    tok = task.tokenizer
    raw = task.raw["train"]
    ids = untruncated_ids(task.raw, ("train",), tok, QA)
    assert len(ids) == len(raw)
    # the last word of every context is counted, though a 64-token window cuts most contexts
    last = {t for c in raw["context"] for t in tok(c.split()[-1], add_special_tokens=False)["input_ids"]}
    windows = {t for row in task.train["input_ids"] for t in row}
    counted = {t for row in ids for t in row}
    question = {t for q in raw["question"] for t in tok(q, add_special_tokens=False)["input_ids"]}
    assert question <= counted and last <= counted and counted >= windows
    state = kind_model(QA)
    ctx = method_context(tmp_path, task, state)
    ctx.recipe.data.max_length, ctx.recipe.data.doc_stride = 64, 16  # as the task's windows were made
    out = apply_method("prune.vocabulary", state, ctx)
    kept = out.extras[VOCABULARY_KEY].kept
    assert counted <= set(kept) and len(kept) < tok.vocab_size
    assert out.model.get_input_embeddings().weight.shape[0] == len(kept)
    change = ctx.pending_data.figures if getattr(ctx, "pending_data", None) else None
    assert "vocab/validation_loss_before" in ctx.seen and "vocab/validation_accuracy_before" not in ctx.seen, change


def test_vocabulary_pruning_counts_the_words_of_a_tagged_sentence():
    from core.methods.pruning.vocabulary import untruncated_ids

    task = kind_task(TOKEN)
    ids = untruncated_ids(task.raw, ("train",), task.tokenizer, TOKEN)
    words = [task.tokenizer(w, add_special_tokens=False)["input_ids"] for s in task.raw["train"]["tokens"] for w in s]
    assert {t for w in words for t in w} | {task.tokenizer.cls_token_id, task.tokenizer.sep_token_id} == \
        {t for row in ids for t in row}


@pytest.mark.parametrize("kind", (TOKEN, REGRESSION), ids=lambda k: k.value)
def test_an_evaluate_step_measures_the_tasks_loss_not_accuracy(kind, tmp_path):
    from core.methods.task_measure import evaluate_loss

    task, state = kind_task(kind), kind_model(kind)
    ctx = method_context(tmp_path, task, state)
    apply_method("evaluate", state, ctx, max_samples=8)
    assert "validation/accuracy" not in ctx.seen
    assert ctx.seen["validation/loss"] == [pytest.approx(
        evaluate_loss(state.model, task.loader("validation", 64, limit=8))["loss"], rel=1e-5)]


@dataclass
class _WidgetSettings:
    amount: float = 0.5


@pytest.fixture
def sentence_widget(monkeypatch):
    """``test.sentences``: a method that applies to sentence classification only, registered for this test."""
    from core import registry

    registry.all_methods()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    calls: list = []
    registry.register_method(
        "test.sentences", family="pruning", title="Sentence widget", description="d", config=_WidgetSettings,
        phrase="widget", tasks=("sequence-classification", "regression"),
        task_reason="it reads one decision per sentence")(lambda state, cfg, ctx: calls.append(ctx) or state)
    return calls


def test_a_method_a_task_cannot_take_is_refused_before_the_run_with_the_reason(sentence_widget, tmp_path):
    from types import SimpleNamespace

    from core.applicability import (TaskRefusal, applicability, apply_step, recipe_problems, stack_problems,
                                    task_applicability)
    from core.recipe import Step
    from core.registry import get_method
    from tests.conftest import tiny_recipe

    reason = "test.sentences cannot apply to a question-answering task: it reads one decision per sentence"
    assert task_applicability("test.sentences", "question-answering") == reason
    assert task_applicability("test.sentences", "regression") is None
    assert task_applicability("test.sentences", None) is None  # no task said: sentence classification
    assert applicability("test.sentences", "bert", {}, task=QA) == reason
    assert applicability("test.sentences", "bert", {}) is None  # the family alone
    assert stack_problems([("finetune", {}), ("test.sentences", {})], "bert", task="question_answering") == \
        [(1, reason)]
    assert stack_problems([("test.sentences", {})], "", task="multi-label")  # family unknown: the task still checks
    # the recipe validator (validate / run) reads the recipe's task
    recipe = tiny_recipe(Step("finetune"), Step("test.sentences"))
    assert not recipe_problems(recipe)
    recipe.task = "token-classification"
    problems = recipe_problems(recipe)
    assert [(p.step, p.method) for p in problems] == [(1, "test.sentences")]
    assert "token-classification task: it reads one decision per sentence" in problems[0].message
    # the engine's check before the handler: the run's task data says the kind
    state = kind_model(QA)
    ctx = method_context(tmp_path, kind_task(QA), state)
    with pytest.raises(TaskRefusal, match="question-answering task: it reads one decision per sentence"):
        apply_step(get_method("test.sentences"), state, _WidgetSettings(), ctx)
    assert sentence_widget == []
    ctx = method_context(tmp_path, SimpleNamespace(kind=TaskKind.REGRESSION), state)
    apply_step(get_method("test.sentences"), state, _WidgetSettings(), ctx)
    assert len(sentence_widget) == 1


def test_registration_names_known_tasks_and_says_why_it_leaves_some_out(sentence_widget):
    from core.registry import TASKS, all_methods, register_method

    assert TASKS == tuple(k.value for k in TaskKind)
    with pytest.raises(ValueError, match="unknown task 'ner'"):
        register_method("test.bad", family="pruning", title="t", description="d", config=_WidgetSettings,
                        tasks=("ner",), task_reason="x")
    with pytest.raises(ValueError, match="says why"):
        register_method("test.bad", family="pruning", title="t", description="d", config=_WidgetSettings,
                        tasks=("regression",))
    # every real method applies to every task kind (the importance, ablation and distillation steps use each
    # task's loss; see core.methods.task_measure)
    assert [s.name for s in all_methods() if set(s.tasks) != set(TASKS) and s.name != "test.sentences"] == []


@pytest.mark.parametrize("kind", (TOKEN, QA), ids=lambda k: k.value)
def test_int8_keeps_the_task_head_in_float_unless_asked(kind, tmp_path):
    head = HEADS[kind]
    task = kind_task(kind)
    batch = {k: v for k, v in _batch(task).items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    for include, float_head in ((False, True), (True, False)):
        state = kind_model(kind)
        ctx = method_context(tmp_path, task, state)
        out = apply_method("quant.dynamic_int8", state, ctx, include_classifier=include)
        assert (type(getattr(out.model, head)) is torch.nn.Linear) is float_head
        assert type(out.model.bert.encoder.layer[0].output.dense) is not torch.nn.Linear  # the body is int8
        with torch.no_grad():
            result = out.model(**batch)
        assert torch.isfinite(result.start_logits if kind is QA else result.logits).all()


@pytest.mark.parametrize("kind", (TOKEN, QA), ids=lambda k: k.value)
def test_movement_blocks_score_from_the_task_loss_while_training(kind, tmp_path, loss_validation):
    task, state = kind_task(kind), kind_model(kind)
    ctx = method_context(tmp_path, task, state)
    before = count_parameters(state.model)
    out = apply_method("prune.movement", state, ctx, granularity="blocks", heads_amount=0.5, ffn_amount=0.5,
                       max_steps=4, batch_size=8, prune_every=1, learning_rate=1e-3)
    assert sum(head_counts(out.model)) == 4 and count_parameters(out.model) < before
