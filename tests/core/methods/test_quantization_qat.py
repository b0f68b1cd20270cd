import copy

import torch

from core.methods.quantization.fake import QATLinear, fake_quant
from core.methods.quantization.qat import QATSettings, insert_fake_quant, qat, remove_fake_quant
from core.recipe import Step
from tests.conftest import tiny_recipe
from tests.core.methods.test_distillation_support import fixed_batch, make_ctx, tiny_bert


def test_fake_quant_rounds_forward_and_passes_gradients_straight_through():
    x = torch.tensor([0.0, 0.04, -0.51, 2.0], requires_grad=True)
    y = fake_quant(x, torch.tensor(0.1), qmax=10)
    assert torch.allclose(y, torch.tensor([0.0, 0.0, -0.5, 1.0]))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))


def test_wrappers_keep_parameter_names_and_come_off_cleanly():
    model = tiny_bert(layers=2).model
    names = dict(model.named_parameters())
    wrapped = insert_fake_quant(model, QATSettings())
    assert "classifier" not in wrapped and "bert.pooler.dense" in wrapped
    assert sum(isinstance(m, QATLinear) for m in model.modules()) == len(wrapped) == 2 * 6 + 1
    assert dict(model.named_parameters()).keys() == names.keys()
    assert all(p is names[n] for n, p in model.named_parameters())
    remove_fake_quant(model)
    assert not any(isinstance(m, QATLinear) for m in model.modules())
    assert not any("act_max" in k for k in model.state_dict())


def test_qat_trains_then_converts_to_int8_close_to_the_float_model(tmp_path, tiny_task):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    state = tiny_bert(layers=2)
    float_model = state.model  # trained in place; the int8 model is a converted copy
    ctx = make_ctx(tmp_path, tiny_task, state, teacher=state.replace(model=copy.deepcopy(state.model)))
    before = float_model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    out = qat(state, QATSettings(max_steps=3, batch_size=8, learning_rate=1e-3, eval_samples=8), ctx)
    assert out.quantized and "qat/loss" in ctx.seen
    assert not torch.equal(float_model.bert.encoder.layer[0].attention.self.query.weight, before)
    query = out.model.bert.encoder.layer[0].attention.self.query
    assert isinstance(query, DynamicLinear) and query.weight().dtype == torch.qint8
    assert query.weight().qscheme() == torch.per_channel_affine
    assert isinstance(out.model.classifier, torch.nn.Linear)
    assert out.extras["quantization"]["kind"] == "dynamic_int8" and out.extras["quantization"]["per_channel"]
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    float_model.eval()
    with torch.no_grad():
        ref, got = float_model(**batch).logits, out.model(**batch).logits
    # stated tolerance: int8 logits within 5 % (relative L2) of the float model's
    assert float((got - ref).norm() / ref.norm()) < 0.05


def test_qat_per_tensor_with_the_head(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    ctx = make_ctx(tmp_path, tiny_task, state, teacher=state.replace(model=copy.deepcopy(state.model)))
    cfg = QATSettings(max_steps=1, batch_size=8, per_channel=False, include_classifier=True, eval_samples=8)
    out = qat(state, cfg, ctx)
    assert out.model.classifier.weight().qscheme() == torch.per_tensor_affine


def test_qat_freezes_the_stack():
    problems = tiny_recipe(Step("quant.qat"), Step("finetune")).problems()
    assert len(problems) == 1 and "cannot train after step 1 (quant.qat)" in str(problems[0])
    assert tiny_recipe(Step("finetune"), Step("quant.qat"), Step("evaluate")).problems() == []
