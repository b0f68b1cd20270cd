import copy

import pytest
import torch
import torch.nn.functional as F

from core import events as ev
from core.errors import StudioError
from core.methods.distillation.losses import distillation_loss, kd_loss
from core.methods.distillation.matching import MATCHER_ATTR, resolve_layer_map, uniform_layer_map
from core.methods.distillation.student import StudentInitSettings, student_init
from core.methods.distillation.task import DistillSettings, build_matcher, distill_train, make_loss
from core.methods.distillation.agnostic import TaskAgnosticSettings, distill_task_agnostic
from core.models.architecture import count_parameters, encoder_of
from core.recipe import Step
from tests.conftest import tiny_recipe
from tests.core.methods.test_distillation_support import fixed_batch, layer_params, make_ctx, tiny_bert


def test_uniform_layer_map_follows_the_rounding_rule():
    assert uniform_layer_map(4, 12) == [2, 5, 8, 11]
    assert uniform_layer_map(3, 6) == [1, 3, 5]
    assert uniform_layer_map(2, 2) == [0, 1]
    assert uniform_layer_map(4, 6) == [1, 2, 4, 5]  # 1.5 and 4.5 round up
    assert resolve_layer_map([0, 3], 2, 4) == [0, 3]
    with pytest.raises(StudioError, match="2 layers"):
        resolve_layer_map([0], 2, 4)
    with pytest.raises(StudioError, match="not teacher layers"):
        resolve_layer_map([0, 4], 2, 4)


def test_every_other_layer_student_keeps_the_teachers_exact_weights(tmp_path, tiny_task):
    teacher = tiny_bert(layers=4)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    out = student_init(teacher, StudentInitSettings(), ctx)
    student = out.model
    assert student is not teacher.model and len(encoder_of(student).layer) == 2
    assert student.config.num_hidden_layers == 2 and teacher.model.config.num_hidden_layers == 4
    for i, t in enumerate((0, 2)):
        s_state = encoder_of(student).layer[i].state_dict()
        t_state = encoder_of(teacher.model).layer[t].state_dict()
        assert all(torch.equal(s_state[k], t_state[k]) for k in t_state)
    assert count_parameters(student) == count_parameters(teacher.model) - 2 * layer_params(teacher.model)
    assert out.extras["student"] == {"mode": "layers", "teacher_layers": [0, 2]}
    explicit = student_init(teacher, StudentInitSettings(keep_layers=[3]), ctx).model
    assert torch.equal(encoder_of(explicit).layer[0].output.dense.weight, encoder_of(teacher.model).layer[3].output.dense.weight)


def test_config_student_has_the_requested_shape_and_starts_from_the_teachers_embeddings(tmp_path, tiny_task):
    from transformers import BertForSequenceClassification

    teacher = tiny_bert(layers=2)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    cfg = StudentInitSettings(mode="config", num_layers=1, hidden_size=16, num_heads=4, intermediate_size=32)
    student = student_init(teacher, cfg, ctx).model
    ref_cfg = copy.deepcopy(teacher.model.config)
    ref_cfg.update({"num_hidden_layers": 1, "hidden_size": 16, "num_attention_heads": 4, "intermediate_size": 32})
    assert count_parameters(student) == count_parameters(BertForSequenceClassification(ref_cfg))
    # narrower: an orthogonal projection of the teacher's table, keeping at least half its (centred) energy
    t_w = teacher.model.bert.embeddings.word_embeddings.weight.detach()
    s_w = student.bert.embeddings.word_embeddings.weight.detach()
    assert s_w.shape == (t_w.shape[0], 16)
    assert bool((s_w.norm(dim=1) <= t_w.norm(dim=1) + 1e-5).all())
    centred = t_w - t_w.mean(0)
    assert float((s_w - s_w.mean(0)).pow(2).sum()) >= 0.5 * float(centred.pow(2).sum())
    # same width: copied exactly
    same = student_init(teacher, StudentInitSettings(mode="config", num_layers=1), ctx).model
    assert torch.equal(same.bert.embeddings.word_embeddings.weight, t_w)
    assert same.config._attn_implementation == "sdpa"


def test_loss_reduces_to_pure_kd_and_pure_ce():
    torch.manual_seed(0)
    s, t = torch.randn(6, 3), torch.randn(6, 3) * 3
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    temp = 2.5
    manual_kd = F.kl_div(F.log_softmax(s / temp, -1), F.softmax(t / temp, -1), reduction="batchmean") * temp**2
    assert torch.allclose(kd_loss(s, t, temp), manual_kd, atol=1e-6)
    assert torch.allclose(distillation_loss(s, t, labels, temp, alpha=0.0)["loss"], manual_kd, atol=1e-6)
    assert torch.allclose(distillation_loss(s, t, labels, temp, alpha=1.0)["loss"], F.cross_entropy(s, labels), atol=1e-6)
    mixed = distillation_loss(s, t, labels, temp, alpha=0.3)["loss"]
    assert torch.allclose(mixed, 0.3 * F.cross_entropy(s, labels) + 0.7 * manual_kd, atol=1e-6)
    assert float(kd_loss(t, t, temp)) == pytest.approx(0.0, abs=1e-6)


def test_kd_with_temperature_brings_the_student_closer_to_the_teacher(tiny_task):
    teacher = tiny_bert(layers=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with torch.no_grad():
        teacher.model.classifier.weight.mul_(30)  # confident teacher, so there is something to learn
    student = tiny_bert(layers=1, seed=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).model
    batch = fixed_batch(tiny_task)
    cfg = DistillSettings(temperature=2.0, alpha=0.0)
    loss_fn = make_loss(teacher.model, cfg, None)
    inputs = {k: v for k, v in batch.items() if k != "labels"}

    def kl_to_teacher():
        with torch.no_grad():
            return float(kd_loss(student(**inputs).logits, teacher.model(**inputs).logits, cfg.temperature))

    before = kl_to_teacher()
    student.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # the big table only slows the test
    opt = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(10):
        opt.zero_grad()
        loss_fn(student, batch).backward()
        opt.step()
    after = kl_to_teacher()
    assert after < 0.5 * before, (before, after)


def test_intermediate_matching_across_widths_trains_and_cleans_up(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    student = student_init(teacher, StudentInitSettings(mode="config", num_layers=1, hidden_size=16, num_heads=4,
                                                        intermediate_size=32), ctx)
    cfg = DistillSettings(max_steps=3, batch_size=8, hidden_weight=1.0, attention_weight=1.0, eval_samples=16)
    matcher = build_matcher(student.model, teacher.model, cfg)
    assert matcher.layer_map == [1] and isinstance(matcher.proj, torch.nn.Linear)
    w_before = student.model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    out = distill_train(student, cfg, ctx)
    assert not torch.equal(out.model.bert.encoder.layer[0].attention.self.query.weight, w_before)
    for key in ("distill/kd_loss", "distill/ce_loss", "distill/hidden_loss", "distill/attention_loss", "distill/loss"):
        assert key in ctx.seen, key
    assert not hasattr(out.model, MATCHER_ATTR)
    assert not any("_distill" in k for k in out.model.state_dict())
    assert out.model.config._attn_implementation == "sdpa"
    assert teacher.model.config._attn_implementation == "sdpa"


def test_task_agnostic_matches_hidden_states_on_unlabelled_text(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    # a student identical to the teacher starts at zero loss: the uniform map pairs layer i with layer i
    same = teacher.replace(model=copy.deepcopy(teacher.model))
    distill_task_agnostic(same, TaskAgnosticSettings(max_steps=1, batch_size=8, learning_rate=1e-7, eval_samples=8), ctx)
    assert ctx.seen["distill/hidden_loss"][0] == pytest.approx(0.0, abs=1e-6)
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(f"this is sentence number {i} about a film" for i in range(24)) + "\n\n")
    student = student_init(teacher, StudentInitSettings(keep_layers=[1]), ctx)
    ctx.seen.clear()
    cfg = TaskAgnosticSettings(text_file=str(text), loss="cosine", attention_weight=1.0, max_steps=2, batch_size=8,
                               eval_samples=8)
    out = distill_task_agnostic(student, cfg, ctx)
    assert "distill/hidden_loss" in ctx.seen and "distill/attention_loss" in ctx.seen
    assert ctx.task is tiny_task  # the real task is back after the step
    assert not hasattr(out.model, MATCHER_ATTR)
    with pytest.raises(StudioError, match="no text file"):
        distill_task_agnostic(student, TaskAgnosticSettings(text_file=str(tmp_path / "missing.txt")), ctx)


def test_student_then_distillation_through_the_engine(engine, tiny_task):
    recipe = tiny_recipe(Step("finetune", {"max_steps": 2, "batch_size": 16}),
                         Step("distill.student_init", {"keep_layers": [1]}),
                         Step("distill.train", {"max_steps": 2, "batch_size": 16, "hidden_weight": 1.0}))
    assert recipe.problems() == []
    result = engine.run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    assert len(encoder_of(result.state.model).layer) == 1
    assert result.results["parameters"] < result.results["baseline_parameters"]


def test_task_agnostic_trains_on_its_sentences_without_touching_the_runs_data(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    seen_tasks = []
    ctx.bus.subscribe(ev.Metric, lambda e: seen_tasks.append(ctx.task))
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(f"sentence {i}" for i in range(5)) + "\n")
    cfg = TaskAgnosticSettings(text_file=str(text), max_steps=3, batch_size=4, eval_samples=8)
    student = student_init(teacher, StudentInitSettings(keep_layers=[1]), ctx)
    distill_task_agnostic(student, cfg, ctx)
    assert seen_tasks and all(task is tiny_task for task in seen_tasks)  # never swapped, not even during training
    assert ctx.seen["distill/hidden_loss"]
