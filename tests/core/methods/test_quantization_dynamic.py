"""``quant.dynamic_int8``: int8 linears (per channel or per tensor) and optional k-bit embedding tables."""

import copy

import torch

from core.models.checkpoint import save_checkpoint
from core.export import load_export
from core.methods.quantization.kbit_modules import KBitEmbedding
from core.models.architecture import serialized_size
from tests.conftest import apply_method, method_context
from tests.core.methods.test_distillation_support import fixed_batch, tiny_bert


def _logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


def _inputs(task):
    return {k: v for k, v in fixed_batch(task).items() if k != "labels"}


def test_linears_become_int8_and_outputs_stay_close(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    batch = _inputs(tiny_task)
    ref = _logits(state.model, batch)
    errors = {}
    for per_channel in (False, True):
        ctx = method_context(tmp_path, tiny_task, state)
        out = apply_method("quant.dynamic_int8", state.replace(model=copy.deepcopy(state.model)), ctx, per_channel=per_channel)
        assert out.quantized
        quantized = [m for m in out.model.modules() if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]
        assert len(quantized) == 2 * 6 + 1  # 6 linears per layer and the pooler; the classifier stays float
        qscheme = quantized[0].weight().qscheme()
        assert qscheme == (torch.per_channel_affine if per_channel else torch.per_tensor_affine)
        errors[per_channel] = float((_logits(out.model, batch) - ref).norm() / ref.norm())
    assert max(errors.values()) < 0.05, errors


def test_embedding_tables_shrink_with_their_bits_and_reload(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    batch = _inputs(tiny_task)
    ref = _logits(state.model, batch)
    float_tables = sum(m.weight.numel() for m in state.model.modules() if isinstance(m, torch.nn.Embedding))
    ctx = method_context(tmp_path, tiny_task, state)
    plain = apply_method("quant.dynamic_int8", state.replace(model=copy.deepcopy(state.model)), ctx)
    ctx = method_context(tmp_path, tiny_task, state)
    small = apply_method("quant.dynamic_int8", state.replace(model=copy.deepcopy(state.model)), ctx, embedding_bits=8)
    tables = [m for m in small.model.modules() if isinstance(m, KBitEmbedding)]
    assert len(tables) == 3 and not any(isinstance(m, torch.nn.Embedding) for m in small.model.modules())
    # 4 bytes -> 1 byte per weight, plus float16 scales (one per row and group of 128)
    saved = serialized_size(plain.model) - serialized_size(small.model)
    assert 0.70 * float_tables * 3 < saved < float_tables * 3
    assert ctx.seen["model/size_bytes"][-1] == serialized_size(small.model)
    assert float((_logits(small.model, batch) - ref).norm() / ref.norm()) < 0.05
    reloaded = load_export(save_checkpoint(small, tmp_path / "ckpt"))
    assert reloaded.quantized
    torch.testing.assert_close(_logits(reloaded.model, batch), _logits(small.model, batch), atol=0, rtol=0)
