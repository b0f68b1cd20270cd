import copy

import pytest
import torch

from core.errors import StudioError
from core.methods.quantization.kbit import KBitSettings, kbit, parse_layer_bits, quantize_kbit
from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear
from core.methods.quantization.packing import pack_codes, packed_length, unpack_codes
from core.models.architecture import encoder_of, serialized_size
from core.models.custom import is_custom, module_class
from core.recipe import Step
from tests.conftest import tiny_recipe
from tests.core.methods.test_distillation_support import fixed_batch, make_ctx, tiny_bert


@pytest.mark.parametrize("bits", range(2, 9))
def test_codes_pack_densely_and_round_trip(bits):
    codes = torch.randint(0, 2**bits, (1001,), generator=torch.Generator().manual_seed(bits), dtype=torch.int32)
    packed = pack_codes(codes.to(torch.uint8), bits)
    assert packed.dtype == torch.uint8 and packed.numel() == packed_length(1001, bits) == -(-1001 * bits // 8)
    assert torch.equal(unpack_codes(packed, bits, 1001), codes)


def _logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


def _relative_error(a, b):
    return float((a - b).norm() / b.norm())


def _weight_error(bits, **options):
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    q = KBitLinear.from_linear(linear, bits, options.get("group_size", 0), options.get("symmetric", True))
    return _relative_error(q.dequantized(), linear.weight.detach())


def test_error_grows_as_bits_shrink_and_stays_bounded():
    e8, e4, e2 = _weight_error(8), _weight_error(4), _weight_error(2)
    assert e8 < 0.01 and e4 < 0.15 and e2 < 0.8
    assert e8 < e4 < e2
    assert _weight_error(4, group_size=16) < e4  # smaller groups, finer scales
    assert _weight_error(4, symmetric=False) < 0.15


def test_model_outputs_and_sizes_follow_the_bits(tiny_task):
    state = tiny_bert(layers=2)
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    ref = _logits(state.model, batch)
    sizes, errors = {}, {}
    for bits in (8, 4, 2):
        model = copy.deepcopy(state.model)
        quantize_kbit(model, KBitSettings(bits=bits, quantize_embeddings=True, embedding_bits=bits, include_head=True))
        assert not any(isinstance(m, (torch.nn.Linear, torch.nn.Embedding)) for m in model.modules())
        sizes[bits] = serialized_size(model)
        errors[bits] = _relative_error(_logits(model, batch), ref)
    assert errors[8] < 0.02 and errors[4] < 0.3
    assert sizes[8] > sizes[4] > sizes[2]
    # the word embeddings dominate: 4-bit codes take half the bytes of 8-bit ones, plus the shared float16 scales
    assert sizes[4] / sizes[8] < 0.6
    float_size = serialized_size(state.model)
    assert sizes[8] < 0.3 * float_size


def test_mixed_precision_per_layer(tmp_path, tiny_task):
    state = tiny_bert(layers=2)
    out = kbit(state, KBitSettings(bits=4, layer_bits=[8, 2]), make_ctx(tmp_path, tiny_task, state))
    layers = encoder_of(out.model).layer
    assert layers[0].attention.self.query.bits == 8 and layers[0].output.dense.bits == 8
    assert layers[1].intermediate.dense.bits == 2
    assert isinstance(out.model.classifier, torch.nn.Linear)  # head left in float by default
    assert out.quantized and out.extras["quantization"]["bits"]["bert.encoder.layer.1.output.dense"] == 2
    model = tiny_bert(layers=3).model
    quantize_kbit(model, KBitSettings(bits=4, layer_bits=["2:8"]))
    assert [encoder_of(model).layer[i].attention.output.dense.bits for i in range(3)] == [4, 4, 8]


def test_per_layer_bits_are_checked():
    assert parse_layer_bits(["0:8", "3:2"], 4) == {0: 8, 3: 2}
    assert parse_layer_bits("4,8".split(","), 2) == {0: 4, 1: 8}
    for bad, n in (([4, 9], 2), (["0:8", 4], 2), ([4, 4, 4], 2), (["5:4"], 2), (["x"], 2)):
        with pytest.raises(StudioError):
            parse_layer_bits(bad, n)
    assert KBitSettings(layer_bits=[1]).validate()


def test_kbit_modules_rebuild_from_their_spec(tiny_task):
    state = tiny_bert(layers=2)
    quantize_kbit(state.model, KBitSettings(bits=3, symmetric=False, granularity="group", group_size=16,
                                            quantize_embeddings=True, embedding_bits=3))
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    for name, module in state.model.named_modules():
        if is_custom(module):
            rebuilt = module_class(type(module).__name__).from_spec(module.module_spec())
            rebuilt.load_state_dict(module.state_dict())
            assert torch.equal(rebuilt.dequantized(), module.dequantized()), name
    word = state.model.bert.embeddings.word_embeddings
    assert isinstance(word, KBitEmbedding) and word.codes.dtype == torch.uint8 and word.bits == 3
    assert word.offsets is not None and word.scales.dtype == torch.float16
    a = _logits(state.model, batch)
    state.model.load_state_dict(copy.deepcopy(state.model.state_dict()))  # drops the cache, same result
    assert torch.equal(_logits(state.model, batch), a)


def test_training_after_kbit_is_rejected():
    problems = tiny_recipe(Step("quant.kbit"), Step("finetune")).problems()
    assert len(problems) == 1 and "cannot train after step 1 (quant.kbit)" in str(problems[0])
    assert tiny_recipe(Step("quant.kbit"), Step("distill.train")).problems()
    assert tiny_recipe(Step("finetune"), Step("quant.kbit", {"bits": 3}), Step("evaluate")).problems() == []
    assert any(p.field == "bits" for p in tiny_recipe(Step("quant.kbit", {"bits": 1})).problems())
