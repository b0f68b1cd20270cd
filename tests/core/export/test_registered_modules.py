"""Every custom module the studio's methods register survives an export round trip through the loader."""

from __future__ import annotations

import pytest
import torch

from core.models.checkpoint import save_checkpoint
from core.export import load_export
from core.models import custom
from tests.core.export.helpers import logits


def _low_rank(model):
    from core.methods.factorization.modules import LowRankLinear

    block = model.bert.encoder.layer[0]
    block.intermediate.dense = LowRankLinear.from_linear(block.intermediate.dense, rank=6)
    return "LowRankLinear"


def _factorized_embedding(model):
    from core.methods.factorization.modules import FactorizedEmbedding

    emb = model.bert.embeddings
    emb.word_embeddings = FactorizedEmbedding.from_embedding(emb.word_embeddings, embedding_size=8)
    return "FactorizedEmbedding"


def _kbit_linear(model):
    from core.methods.quantization.kbit_modules import KBitLinear

    att = model.bert.encoder.layer[1].attention.self
    att.value = KBitLinear.from_linear(att.value, bits=4, group_size=16, symmetric=False)
    return "KBitLinear"


def _kbit_embedding(model):
    from core.methods.quantization.kbit_modules import KBitEmbedding

    emb = model.bert.embeddings
    emb.word_embeddings = KBitEmbedding.from_embedding(emb.word_embeddings, bits=8, group_size=32, symmetric=True)
    return "KBitEmbedding"


def _qat_linear(model):
    from core.methods.quantization.fake import QATLinear

    block = model.bert.encoder.layer[0]
    block.output.dense = QATLinear.wrap(block.output.dense, per_channel=True)
    with torch.no_grad():
        block.output.dense.act_max.fill_(3.0)  # a trained input range, which must come back
    return "QATLinear"


BUILDERS = [_low_rank, _factorized_embedding, _kbit_linear, _kbit_embedding, _qat_linear]


def _known_names() -> set[str]:
    import core.methods  # noqa: F401  (registers every method's modules)

    return {name for name in custom._MODULES if not name.startswith("ExportTest")}


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_registered_module_roundtrip(build, tiny_state, tmp_path, batch):
    try:
        name = build(tiny_state.model)
    except ImportError as exc:
        pytest.skip(f"module not available: {exc}")
    folder = save_checkpoint(tiny_state, tmp_path / "ckpt")
    reloaded = load_export(folder)
    assert name in {type(m).__name__ for m in reloaded.model.modules()}
    torch.testing.assert_close(logits(reloaded.model, batch), logits(tiny_state.model, batch), atol=1e-6, rtol=1e-5)
    original = dict(tiny_state.model.state_dict())
    for key, value in reloaded.model.state_dict().items():
        assert value.dtype == original[key].dtype, key  # k-bit codes stay uint8, scales float16


def test_every_registered_module_has_a_roundtrip_test():
    """A new registered module needs a builder above, so its export is proven too."""
    from core.models.loading import load_model

    covered = set()
    for build in BUILDERS:
        try:
            covered.add(build(load_model("tiny", num_labels=2).model))
        except ImportError:
            pass
    missing = _known_names() - covered
    assert not missing, f"add an export round-trip builder for: {', '.join(sorted(missing))}"
