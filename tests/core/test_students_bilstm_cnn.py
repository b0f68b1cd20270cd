"""BiLSTM and CNN students (#24): shapes, the teacher's embeddings, the transfer set, distillation, refusals."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.applicability import TaskRefusal, applicability, stack_problems
from core.data.augment import Augmentation, WordKinds, transfer_set
from core.errors import StudioError
from core.methods.distillation.architectures import project_rows
from core.methods.distillation.losses import distillation_loss, logit_mse
from core.models.adapters import FamilyRefusal
from core.models.students import BiLSTMConfig, CNNConfig, build_student
from tests.conftest import apply_method, method_context
from tests.core.methods.test_distillation_support import fixed_batch, tiny_bert

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"embedding_size": 16, "lstm_hidden_size": 12, "cnn_filters": 6, "cnn_widths": [2, 3], "mlp_size": 10}


def _tokenizer():
    from core.models.loading import load_tokenizer

    return load_tokenizer("tiny")


def _configs(pair: bool):
    common = dict(vocab_size=30522, embedding_size=16, mlp_size=10, pair=pair, num_labels=3)
    return [BiLSTMConfig(hidden_size=12, **common), CNNConfig(widths=[2, 3], filters=6, **common)]


@pytest.mark.parametrize("pair", [False, True])
def test_students_classify_sentences_and_pairs_whatever_the_padding(pair):
    tok = _tokenizer()
    firsts = ["a gripping story", "dull", "the plot drags and the jokes fall flat"]
    seconds = ["told with warmth", "very dull indeed", "no"] if pair else None
    batch = tok(firsts, seconds, padding=True, return_tensors="pt")
    for config in _configs(pair):
        model = build_student(config).eval()
        out = model(**batch, labels=torch.tensor([0, 2, 1]))
        assert out.logits.shape == (3, 3) and torch.isfinite(out.loss)
        width = 2 * 12 if config.model_type == "bilstm" else 2 * 6
        assert model.mlp.in_features == (4 * width if pair else width)  # [u, v, |u-v|, u*v] for pairs
        for i in range(3):  # one sentence alone gives what it gives in a padded batch
            alone = tok(firsts[i], seconds[i] if pair else None, return_tensors="pt")
            assert torch.allclose(model(**alone).logits[0], out.logits[i], atol=1e-5)
        if pair:  # the second text matters: swapping it changes the logits
            swapped = tok(firsts, list(reversed(seconds)), padding=True, return_tensors="pt")
            assert not torch.allclose(model(**swapped).logits, out.logits)


def test_student_init_builds_a_bilstm_and_a_cnn_from_the_teachers_embeddings(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2)
    table = teacher.model.bert.embeddings.word_embeddings.weight.detach()
    ctx = method_context(tmp_path, tiny_task, teacher)
    for arch in ("bilstm", "cnn"):
        out = apply_method("distill.student_init", teacher, ctx, architecture=arch, **SMALL)
        student = out.model
        assert type(student).__name__ == f"{'BiLSTM' if arch == 'bilstm' else 'CNN'}ForSequenceClassification"
        assert out.extras["student"]["architecture"] == arch and out.masks is None
        assert student.config.num_labels == 2 and not student.config.pair
        assert torch.allclose(student.embeddings.weight, project_rows(table, 16), atol=1e-5)
        assert student.embeddings.weight.shape == (table.shape[0], 16)
    paired = method_context(tmp_path, dataclasses.replace(tiny_task, text_pair_column="text_pair"), teacher)
    full = apply_method("distill.student_init", teacher, paired, architecture="bilstm", embedding_size=None,
                        lstm_hidden_size=8, mlp_size=8)
    assert full.model.config.pair and torch.equal(full.model.embeddings.weight, table)  # the teacher's width: copied


def test_svd_projection_keeps_the_top_directions_and_refuses_widening():
    torch.manual_seed(0)
    table = torch.randn(200, 3) @ torch.randn(3, 12) + 0.01 * torch.randn(200, 12)  # rank 3 plus noise
    projected = project_rows(table, 3)
    centred = table - table.mean(0)
    kept = (projected - projected.mean(0)).pow(2).sum() / centred.pow(2).sum()
    assert projected.shape == (200, 3) and kept > 0.99
    with pytest.raises(StudioError, match="wider than the teacher"):
        project_rows(table, 13)


def test_student_init_settings_refuse_transformer_only_settings():
    from core.methods.distillation.student import StudentInitSettings

    problems = StudentInitSettings(architecture="cnn", init_layers=True, cnn_widths=[2, 99]).validate()
    assert {name for name, _ in problems} == {"init_layers", "cnn_widths"}
    assert StudentInitSettings(architecture="bilstm").validate() == []


SENTENCES = ["the film is good", "the movie is bad", "a film to love", "to hate a movie", "the plot is thin",
             "a plot to forget", "the acting is fine", "the film is long",
             "the story is sad"]


def test_transfer_set_is_deterministic_under_the_seed_and_changes_sentences():
    settings = Augmentation(copies=4, mask_p=0.2, pos_p=0.3, ngram_p=0.3)
    first, _ = transfer_set(SENTENCES, settings, 7, "[MASK]")
    assert first == transfer_set(SENTENCES, settings, 7, "[MASK]")[0]
    assert first != transfer_set(SENTENCES, settings, 8, "[MASK]")[0]
    assert first and not set(first) & set(SENTENCES) and len(set(first)) == len(first)
    assert any("[MASK]" in s for s in first)
    assert any(len(s.split()) < min(len(t.split()) for t in SENTENCES) for s in first)  # an n-gram was cut
    masked_only, _ = transfer_set(SENTENCES, Augmentation(copies=3, mask_p=0.5, pos_p=0.0, ngram_p=0.0), 1, "<m>")
    assert masked_only and all("<m>" in s for s in masked_only)  # masking alone keeps the length
    assert all(len(s.split()) in {len(t.split()) for t in SENTENCES} for s in masked_only)
    firsts, seconds = transfer_set(SENTENCES[:3], settings, 0, "[MASK]", pairs=SENTENCES[3:6])
    assert seconds is not None and len(firsts) == len(seconds)


def test_words_of_a_kind_are_the_words_seen_after_the_same_word():
    kinds = WordKinds(SENTENCES)
    assert kinds.kind["film"] == kinds.kind["acting"] == "the"  # film: twice after "the", once after "a"
    assert kinds.kind["movie"] == "a"  # once after each: ties go to the first alphabetically, whatever the order
    assert kinds.kind["love"] == kinds.kind["forget"] == "to"
    import random

    rng = random.Random(0)
    replacements = {kinds.replacement("film", rng) for _ in range(50)}
    assert replacements <= set(kinds.members["the"]) - {"film"} and len(replacements) > 1
    assert kinds.replacement("unseen", rng) == "unseen"


def test_mse_on_logits_and_augmented_rows_out_of_the_hard_label_term():
    s, t = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    parts = distillation_loss(s, t, torch.tensor([0, -100]), 1.0, 0.5, soft="mse")
    assert torch.isclose(parts["kd"], logit_mse(s, t)) and torch.isclose(parts["kd"], torch.tensor(1.25))
    assert torch.isclose(parts["ce"], torch.nn.functional.cross_entropy(s[:1], torch.tensor([0])))
    only_teacher = distillation_loss(s, t, torch.tensor([-100, -100]), 1.0, 0.5, soft="mse")
    assert only_teacher["ce"] == 0 and torch.isfinite(only_teacher["loss"])


@pytest.mark.parametrize("arch,soft", [("bilstm", "mse"), ("cnn", "kl")])
def test_distillation_into_a_student_lowers_the_kd_loss(tmp_path, tiny_task, arch, soft):
    teacher = tiny_bert(layers=2)
    ctx = method_context(tmp_path, tiny_task, teacher)
    student = apply_method("distill.student_init", teacher, ctx, architecture=arch, **SMALL)
    batch = {k: v for k, v in fixed_batch(tiny_task, 32).items() if k != "labels"}
    with torch.no_grad():
        target = teacher.model(**batch).logits

    def kd(model):
        with torch.no_grad():
            logits = model.eval()(**batch).logits
        return float(distillation_loss(logits, target, None, 2.0, 0.0, soft)["kd"])

    before = kd(student.model)
    out = apply_method("distill.train", student, ctx, soft_loss=soft, alpha=0.0, max_steps=12, batch_size=16,
                       learning_rate=5e-3, warmup_ratio=0.0, augment_copies=1)
    assert kd(out.model) < 0.8 * before
    assert any("transfer set" in getattr(e, "message", "") for e in ctx.events)


def test_methods_that_need_a_transformer_are_refused_after_a_student_step():
    steps = [("finetune", {"max_steps": 1}), ("distill.student_init", {"architecture": "bilstm"}),
             ("prune.heads", {}), ("prune.ffn", {}), ("prune.layers", {}), ("distill.train", {"hidden_weight": 1.0}),
             ("distill.train", {"attention_weight": 0.5}), ("distill.train", {"soft_loss": "mse"}),
             ("finetune", {}), ("evaluate", {}), ("quant.dynamic_int8", {})]
    problems = dict(stack_problems(steps, "bert"))
    assert sorted(problems) == [2, 3, 4, 5, 6]
    assert "prune.heads cannot apply to a BiLSTM student (bilstm)" in problems[2]
    assert "attention heads" in problems[2]
    assert "hidden_weight: above 0" in problems[5] and "distil on its logits" in problems[5]
    assert dict(stack_problems([("distill.student_init", {}), ("prune.heads", {})], "bert")) == {}  # transformer
    # the palette's question for a student folder: whole methods only
    assert applicability("prune.heads", "cnn") and applicability("distill.student_init", "cnn")
    assert applicability("distill.train", "cnn") is None and applicability("quant.dynamic_int8", "cnn") is None
    assert "hidden_weight" in applicability("distill.train", "cnn", {"hidden_weight": 2})


def test_a_student_model_is_refused_by_the_engine_before_the_handler(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2)
    ctx = method_context(tmp_path, tiny_task, teacher)
    student = apply_method("distill.student_init", teacher, ctx, architecture="cnn", **SMALL)
    with pytest.raises(FamilyRefusal, match="prune.heads cannot apply to a CNN student"):
        apply_method("prune.heads", student, ctx)
    with pytest.raises(FamilyRefusal, match="hidden_weight: above 0"):
        apply_method("distill.train", student, ctx, hidden_weight=1.0, max_steps=1)
    token_ctx = method_context(tmp_path, dataclasses.replace(tiny_task, kind=_token_kind()), teacher)
    # a CNN cannot tag tokens (a BiLSTM can: tests/core/test_students_tagger.py)
    with pytest.raises(TaskRefusal, match="architecture: cnn cannot apply to a token-classification task"):
        apply_method("distill.student_init", teacher, token_ctx, architecture="cnn", **SMALL)


def _token_kind():
    from core.tasks.kinds import TaskKind

    return TaskKind.TOKEN_CLASSIFICATION


def test_the_transformer_modes_refusals_leave_a_bilstm_student_of_an_albert_teacher_alone():
    assert "ALBERT" in applicability("distill.student_init", "albert", {})  # mode: layers by default
    assert applicability("distill.student_init", "albert", {"architecture": "bilstm"}) is None
    assert applicability("distill.student_init", "mobilebert", {"mode": "config", "architecture": "cnn"}) is None
    assert "MobileBERT" in applicability("distill.student_init", "mobilebert", {"mode": "config"})
