"""distill.student_init with init_layers: student layers projected from the teacher's onto a narrower width."""

from __future__ import annotations

import copy

import pytest
import torch

from core.applicability import applicability
from core.errors import StudioError
from core.methods.distillation.projection import residual_basis
from core.methods.distillation.student import StudentInitSettings, student_from_config, student_init
from core.models.adapters import adapter_for
from core.models.architecture import count_parameters
from core.recipe import Step
from tests.conftest import tiny_recipe
from tests.core.methods.families import family_model
from tests.core.methods.test_distillation_support import fixed_batch, make_ctx, tiny_bert

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(**kw) -> StudentInitSettings:
    return StudentInitSettings(mode="config", init_layers=True, **kw)


def _inputs(n: int = 8, length: int = 16, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 30000, (n, length), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _states(model, inputs):
    with torch.no_grad():
        return model.eval()(**inputs, output_hidden_states=True)


def test_same_shape_reproduces_the_teacher_and_a_mapped_layer_exactly(tmp_path, tiny_task):
    teacher = tiny_bert(layers=3)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    out = student_init(teacher, _config(num_layers=3), ctx)  # uniform map over equal depths: [0, 1, 2]
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    t_out, s_out = _states(teacher.model, batch), _states(out.model, batch)
    assert torch.equal(s_out.logits, t_out.logits)
    assert out.extras["student"]["layers_projected"] is True and out.extras["student"]["layer_map"] == [0, 1, 2]
    # one student layer from teacher layer 2: the teacher's exact weights, so the same output for the same input
    one = student_init(teacher, _config(num_layers=1, layer_map=[2]), ctx).model
    s_layer, t_layer = one.bert.encoder.layer[0], teacher.model.bert.encoder.layer[2]
    t_state = t_layer.state_dict()
    assert all(torch.equal(v, t_state[k]) for k, v in s_layer.state_dict().items())
    hidden = t_out.hidden_states[2]
    with torch.no_grad():
        assert torch.equal(s_layer(hidden)[0] if isinstance(s_layer(hidden), tuple) else s_layer(hidden),
                           t_layer(hidden)[0] if isinstance(t_layer(hidden), tuple) else t_layer(hidden))


def _relative_error(student, teacher, inputs, basis) -> float:
    s, t = _states(student, inputs).hidden_states[-1], _states(teacher, inputs).hidden_states[-1]
    return float((s @ basis.T - t).pow(2).mean() / t.pow(2).mean())


def test_narrower_projected_student_starts_much_closer_than_a_random_one():
    # initializer_range 0.2: layers that change the hidden states a lot (at 0.02 every layer is nearly the identity)
    teacher = tiny_bert(layers=2, initializer_range=0.2).model
    inputs = _inputs()
    for width, heads, ffn in ((24, 4, 48), (16, 2, 32)):  # 8-dim heads to 6-dim ones; 4 heads to 2 of 8
        shape = dict(num_layers=2, hidden_size=width, num_heads=heads, intermediate_size=ffn)
        projected = student_from_config(teacher, _config(**shape), seed=0)
        random = student_from_config(teacher, StudentInitSettings(mode="config", **shape), seed=0)
        ref_cfg = copy.deepcopy(teacher.config)
        ref_cfg.update({"num_hidden_layers": 2, "hidden_size": width, "num_attention_heads": heads,
                        "intermediate_size": ffn})
        assert count_parameters(projected) == count_parameters(type(teacher)(ref_cfg)) < count_parameters(teacher)
        basis = residual_basis(teacher, adapter_for(teacher), width)
        assert torch.allclose(basis.T @ basis, torch.eye(width), atol=1e-5)
        near, far = _relative_error(projected, teacher, inputs, basis), _relative_error(random, teacher, inputs, basis)
        # a random teacher has little low-rank structure to keep: at half its width the gain is smaller
        assert near < (0.75 if width == 24 else 0.85) * far, (width, near, far)


def test_extra_width_and_bad_settings(tmp_path, tiny_task):
    teacher = tiny_bert(layers=2)
    # a wider FFN than the teacher's adds nothing at the start (random inputs, zero outputs): the same outputs
    wide = student_from_config(teacher.model, _config(num_layers=2, intermediate_size=96), seed=0)
    inputs = _inputs()
    torch.testing.assert_close(_states(wide, inputs).logits, _states(teacher.model, inputs).logits)
    assert wide.bert.encoder.layer[0].intermediate.dense.out_features == 96
    assert float(wide.bert.encoder.layer[0].output.dense.weight[:, 64:].detach().abs().sum()) == 0.0
    assert float(wide.bert.encoder.layer[0].intermediate.dense.weight[64:].detach().abs().sum()) > 0.0  # still trainable
    with pytest.raises(StudioError, match="at most 4 heads"):
        student_from_config(teacher.model, _config(num_layers=1, num_heads=8), seed=0)
    with pytest.raises(StudioError, match="no wider than the teacher"):
        student_from_config(teacher.model, _config(num_layers=1, hidden_size=64), seed=0)
    ctx = make_ctx(tmp_path, tiny_task, teacher)
    with pytest.raises(StudioError, match=r"layer_map: .*not teacher layers \(0 to 1\)"):
        student_init(teacher, _config(num_layers=1, layer_map=[2]), ctx)
    assert any(key == "layer_map" and "num_layers 3" in why for key, why in _config(layer_map=[0, 1]).validate())
    assert any(key == "layer_map" and "init_layers" in why
               for key, why in StudentInitSettings(mode="config", num_layers=1, layer_map=[0]).validate())
    assert any(key == "init_layers" for key, _ in StudentInitSettings(init_layers=True).validate())
    assert _config(num_layers=2, layer_map=[1, 1]).validate() == []


@pytest.mark.parametrize("family", ["roberta", "electra", "distilbert"])
def test_families_project_exactly_at_the_same_shape_and_narrower(family):
    teacher = family_model(family)
    inputs = _inputs()
    same = student_from_config(teacher, _config(num_layers=2), seed=1)
    torch.testing.assert_close(_states(same, inputs).logits, _states(teacher, inputs).logits, rtol=0, atol=0)
    narrow = student_from_config(teacher, _config(num_layers=1, hidden_size=24, num_heads=4, layer_map=[1]), seed=1)
    assert count_parameters(narrow) < count_parameters(teacher)
    assert torch.isfinite(_states(narrow, inputs).logits).all()
    if family == "electra":  # its 16-wide embeddings project to the hidden width; a 16-wide student would not
        with pytest.raises(StudioError, match="embedding size"):
            student_from_config(teacher, _config(num_layers=1, hidden_size=16), seed=1)


def test_unprojectable_families_are_refused_before_the_run():
    for family in ("albert", "deberta", "deberta-v2", "modernbert"):
        why = applicability("distill.student_init", family, {"mode": "config", "init_layers": True})
        assert why and f"({family})" in why and "init_layers" in why, (family, why)
        assert applicability("distill.student_init", family, {"mode": "config"}) is None
    assert applicability("distill.student_init", "electra", {"mode": "config", "init_layers": True}) is None


def test_narrow_projected_student_through_the_engine_and_export(engine, tiny_task, tmp_path):
    from core.export.api import export_model
    from core.models.loading import load_model
    from tests.core.export.helpers import logits

    recipe = tiny_recipe(Step("finetune", {"max_steps": 2, "batch_size": 16}),
                         Step("distill.student_init", {"mode": "config", "num_layers": 1, "hidden_size": 16,
                                                       "num_heads": 4, "intermediate_size": 32, "init_layers": True,
                                                       "layer_map": [1]}),
                         Step("distill.train", {"max_steps": 2, "batch_size": 16, "hidden_weight": 1.0}))
    assert recipe.problems() == []
    result = engine.run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    model = result.state.model
    assert model.config.hidden_size == 16 and model.bert.encoder.layer[0].attention.self.attention_head_size == 4
    assert result.state.extras["student"]["layer_map"] == [1] and result.state.extras["student"]["layers_projected"]
    export_model(result.state, tmp_path / "out", "hf", latency_repeats=1)
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    reloaded = load_model(str(tmp_path / "out"), num_labels=2).model
    torch.testing.assert_close(logits(reloaded, batch), logits(model, batch), atol=1e-5, rtol=1e-4)
    quantized = engine.run(tiny_recipe(*recipe.steps, Step("quant.dynamic_int8", {})), task=tiny_task)
    assert quantized.status == "finished", quantized.error
