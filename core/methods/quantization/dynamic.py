"""Post-training dynamic int8 quantization of linear layers (CPU inference).

Linear layers (and a BiLSTM student's LSTMs) become torch's dynamic int8 modules (int8 weights, activations
quantized on the fly); optionally the embedding tables, which hold half of a
small BERT's weights and which torch's dynamic int8 leaves in float, are
stored as k-bit rows too (:class:`KBitEmbedding`), so the file shrinks with them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.methods.quantization.kbit_modules import KBitEmbedding
from core.models.architecture import serialized_size
from core.registry import register_method, setting


@dataclass
class DynamicInt8Settings:
    per_channel: bool = setting(True, "One scale per output channel instead of one per weight matrix: closer to the "
                                "float model at the same speed")
    include_classifier: bool = setting(False, "Quantize the task head too (the classifier; qa_outputs for question "
                                       "answering): usually costs accuracy for no speed")
    embedding_bits: int | None = setting(None, "Also store the embedding tables with this many bits per weight "
                                         "(scales per row group); empty: keep them in float", min=2, max=8, optional=True)


# The task heads' module names: sentence, token, regression and multi-label heads are ``classifier``, the question-
# answering head ``qa_outputs``; quantizing "the head" means the same modules whatever the task.
TASK_HEADS = ("classifier", "qa_outputs")


def is_task_head(name: str) -> bool:
    """Whether module ``name`` (a ``named_modules`` name) belongs to the model's task head."""
    return name.startswith(TASK_HEADS)


def quantize_dynamic_int8(model: nn.Module, include_classifier: bool = False, per_channel: bool = False) -> nn.Module:
    model = model.to("cpu").eval()
    targets = {name for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.LSTM))}  # LSTM: a student
    if not include_classifier:
        targets = {n for n in targets if not is_task_head(n)}
    with warnings.catch_warnings():
        # torch.ao's eager quantization is deprecated in favour of torchao, whose
        # int8 kernels are slower in eager mode on CPUs without VNNI (ENV.md)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        if per_channel:
            qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
            return torch.ao.quantization.quantize_dynamic(model, {n: qconfig for n in targets}, dtype=torch.qint8)
        return torch.ao.quantization.quantize_dynamic(model, targets, dtype=torch.qint8)


def quantize_embeddings(model: nn.Module, bits: int, group_size: int = 128) -> list[str]:
    """Replace every ``nn.Embedding`` by a :class:`KBitEmbedding` of ``bits``; returns the names replaced."""
    done = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Embedding):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, KBitEmbedding.from_embedding(module, bits, group_size, symmetric=True))
            done.append(name)
    return done


@register_method(
    "quant.dynamic_int8",
    family="quantization",
    title="Dynamic int8 (post-training)",
    description="Convert linear layers to int8 weights with activations quantized on the fly, and optionally the "
    "embedding tables to k-bit rows. CPU only; no training is possible afterwards.",
    config=DynamicInt8Settings,
    freezes=True,
    needs_adapter=False,  # every nn.Linear, whatever holds it: a BiLSTM or CNN student too
    phrase=lambda s: "int8" if s.embedding_bits is None else f"int8 + {s.embedding_bits}-bit embeddings",
)
def dynamic_int8(state, cfg: DynamicInt8Settings, ctx):
    ctx.progress(0, 1, "quantizing", force=True)
    before = serialized_size(state.model)
    model = quantize_dynamic_int8(state.model, cfg.include_classifier, cfg.per_channel)
    if cfg.embedding_bits is not None:
        names = quantize_embeddings(model, cfg.embedding_bits)
        ctx.log(f"embedding tables stored with {cfg.embedding_bits} bits: {', '.join(names)}")
    after = serialized_size(model)
    ctx.metric("model/size_bytes", after)
    ctx.log(f"dynamic int8 ({'per channel' if cfg.per_channel else 'per tensor'}): {before:,} -> {after:,} bytes")
    ctx.progress(1, 1, "quantized", force=True)
    return state.replace(model=model, quantized=True)
