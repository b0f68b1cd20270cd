"""ONNX Runtime's BERT fusion on an exported graph, per-layer head counts included, checked before it is used.

The TorchScript exporter writes each attention's head split as
``Reshape(x, Concat(batch, sequence, -1, head_size))``. ONNX Runtime's
attention fusion reads the head count from that ``-1`` only when the caller
names one head count for the whole model, so a model whose layers kept
different numbers of heads (``prune.heads``) either fuses with the wrong count
or not at all. :func:`pin_head_counts` writes each layer's true count into its
reshape (the projection's output width over the head size, which is what the
``-1`` resolves to), after which the fusion detects the count node by node
(``num_heads=0, hidden_size=0``).

A fused graph is used only when ONNX Runtime runs it to the same outputs as the
graph it came from (:data:`core.export.verify.ONNX_FLOAT` on the sample
batch); otherwise the caller keeps the unfused graph and the notes say why.
:func:`fuse_where_possible` is the entry the formats use: it decides from the
model's shapes whether (and with which head count) to try, and notes the outcome.
Whether a format fuses at all is its caller's choice (:mod:`core.export.onnx_export`).

Fused is not always faster: on the head-pruned MiniLM-L6 (bench/export_fusion.py,
AVX512 CPU, ONNX Runtime 1.32) the fused int8 graph (QAttention) ran at 0.86x
the speed of the unfused int8 graph, which ONNX Runtime's own session
optimizer turns into DynamicQuantizeMatMul / MatMulIntegerToFloat kernels.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from core.errors import ExportError
from core.export import verify
from core.export.onnx_session import OnnxRunner, quiet_exporters
from core.models.heads import SEQUENCE, kind_of
from core.models.manifest import layer_description

# the operators ONNX Runtime's fusion writes (com.microsoft), in the order the notes list them
FUSED_OPS = ("Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization",
             "LayerNormalization", "BiasGelu", "FastGelu", "Gelu")
ATTENTION_OPS = ("Attention", "MultiHeadAttention")


@dataclass
class Fusion:
    """What one fusion attempt produced: the graph file to use (None: keep the unfused one) and what it holds."""

    file: Path | None
    attention: int = 0  # fused attention nodes
    layers: int = 0  # attention blocks in the unfused graph (its Softmax nodes)
    ops: dict[str, int] = field(default_factory=dict)  # fused operator -> nodes added by the fusion
    pinned: int = 0  # head-split reshapes given their layer's explicit head count
    reason: str | None = None  # why nothing is used, when file is None

    def describe(self, purpose: str) -> str:
        """The export note: exactly which operators the fusion wrote, and how many attention blocks it took."""
        if self.file is None:
            return f"ONNX Runtime BERT fusion not used {purpose}: {self.reason}"
        fused = ", ".join(f"{op} x{n}" for op, n in self.ops.items()) or "nothing"
        if self.attention == self.layers:
            att = f"attention fused in all {self.layers} layers"
        elif self.attention:
            att = f"attention fused in {self.attention} of {self.layers} layers (the rest left as MatMul/Softmax)"
        else:
            att = f"attention not fused in any of the {self.layers} layers (left as MatMul/Softmax)"
        pinned = f"; head counts written into {self.pinned} head-split reshapes" if self.pinned else ""
        return f"ONNX Runtime BERT fusion applied {purpose}: {att}; fused operators: {fused}{pinned}"


def op_counts(model) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def _constant(name: str, producers: dict[str, Any], inits: dict[str, Any]) -> np.ndarray | None:
    from onnx import numpy_helper

    if name in inits:
        return numpy_helper.to_array(inits[name])
    node = producers.get(name)
    if node is not None and node.op_type == "Constant":
        for attr in node.attribute:
            if attr.name == "value":
                return numpy_helper.to_array(attr.t)
    return None


def _projection_width(node, producers, inits) -> int | None:
    """The output width of the linear layer (MatMul with a 2-D weight, optionally + bias) that produces ``node``'s input."""
    source = producers.get(node.input[0])
    if source is not None and source.op_type == "Add":
        source = next((producers[i] for i in source.input if i in producers and producers[i].op_type == "MatMul"),
                      None)
    if source is None or source.op_type != "MatMul" or len(source.input) < 2 or source.input[1] not in inits:
        return None
    dims = list(inits[source.input[1]].dims)
    return int(dims[1]) if len(dims) == 2 else None


def pin_head_counts(model) -> int:
    """Replace the ``-1`` head count of every ``Reshape(linear(x), Concat(b, s, -1, d))`` by the layer's count.

    The count is the projection's output width over ``d``, the value the ``-1``
    stands for, so the graph computes the same thing. Returns how many reshapes
    were pinned (in place on ``model``).
    """
    from onnx import numpy_helper

    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    inits = {init.name: init for init in graph.initializer}
    pinned = 0
    for node in graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        concat = producers.get(node.input[1])
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 4:
            continue
        heads = _constant(concat.input[2], producers, inits)
        size = _constant(concat.input[3], producers, inits)
        if heads is None or size is None or heads.size != 1 or size.size != 1 or int(heads.ravel()[0]) != -1:
            continue
        width, head_size = _projection_width(node, producers, inits), int(size.ravel()[0])
        if not width or head_size <= 0 or width % head_size:
            continue
        name = f"{concat.name or node.name}_pinned_heads"
        graph.initializer.append(numpy_helper.from_array(np.array([width // head_size], dtype=np.int64), name))
        concat.input[2] = name
        pinned += 1
    return pinned


def _same_outputs(reference: Path, candidate: Path, sample, kind: str = SEQUENCE) -> str | None:
    """None when both graphs give the same outputs in ONNX Runtime on ``sample``; else why not.

    ``kind`` is the head's task: per-token outputs are compared at the sample's non-padding positions.
    """
    try:
        expected = OnnxRunner(reference).run(sample)
        actual = OnnxRunner(candidate).run(sample)
        verify.compare(expected, actual, verify.ONNX_FLOAT, "the fused graph", kind, sample.get("attention_mask"))
    except ExportError as exc:
        return str(exc)
    return None


@contextmanager
def _quiet_fusion_loggers():
    """The fusion's advice (e.g. that a pruned layer's width is not the hidden size) is checked below, not shown."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith(("fusion_", "onnx_model", "optimizer"))]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def fuse(src: Path, dst: Path, sample, heads: int = 0, hidden: int = 0, *, attention: bool = True,
         multi_head: bool = False, embeddings: bool = True, kind: str = SEQUENCE) -> Fusion:
    """Run ONNX Runtime's BERT fusion on ``src`` into ``dst`` and check it against ``src`` on ``sample``.

    ``heads``/``hidden``: the configured shape when every layer has it, or 0/0
    to read each layer's from its (pinned) reshapes. ``attention=False`` fuses
    only the rest (LayerNorm, Gelu, SkipLayerNorm, embeddings). ``multi_head`` fuses to
    ``MultiHeadAttention``, which keeps the Q/K/V MatMuls outside (so a weight
    quantizer still sees them); ``embeddings=False`` leaves the embedding
    Gathers alone (for a quantizer of embedding rows). ``kind``: the head's task (:mod:`core.models.heads`),
    which says where the outputs are compared.
    """
    import onnx
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    model = onnx.load(str(src))
    layers = op_counts(model)["Softmax"]
    before = op_counts(model)
    pinned = pin_head_counts(model)
    onnx.save(model, str(dst))  # the optimizer reads a file (ONNX Runtime's own pass runs on it first)
    options = FusionOptions("bert")
    options.enable_attention = attention
    options.use_multi_head_attention = multi_head
    options.enable_embed_layer_norm = embeddings
    try:
        with _quiet_fusion_loggers():
            opt = optimizer.optimize_model(str(dst), model_type="bert", num_heads=heads, hidden_size=hidden,
                                           optimization_options=options)
        after = op_counts(opt.model)
        attention = sum(after[op] for op in ATTENTION_OPS)
        wrong = [n.name for n in opt.model.graph.node if n.op_type in ATTENTION_OPS
                 and not any(a.name == "num_heads" and a.i > 0 for a in n.attribute)]
        if wrong:
            dst.unlink(missing_ok=True)
            return Fusion(None, reason=f"{len(wrong)} fused attention node(s) without a head count")
        with _quiet_fusion_loggers():
            opt.save_model_to_file(str(dst))
    except OSError:
        raise
    except Exception as exc:  # fusion is an optimisation: the caller falls back to the unfused graph
        dst.unlink(missing_ok=True)
        return Fusion(None, layers=layers, reason=f"{type(exc).__name__}: {exc}")
    ops = {op: after[op] - before[op] for op in FUSED_OPS if after[op] > before[op]}
    if not ops:
        dst.unlink(missing_ok=True)
        return Fusion(None, layers=layers, reason="no pattern it fuses was found")
    mismatch = _same_outputs(src, dst, sample, kind)
    if mismatch is not None:
        dst.unlink(missing_ok=True)
        return Fusion(None, layers=layers, reason=f"the fused graph does not reproduce the exported one ({mismatch})")
    return Fusion(dst, attention=attention, layers=layers, ops=ops, pinned=pinned)


def fusion_shape(model: nn.Module) -> tuple[int, int] | str:
    """The shape to give ONNX Runtime's BERT fusion, or why it is not tried.

    ``(heads, hidden)`` when every layer has the configured attention shape;
    ``(0, 0)`` when layers kept different head counts (``prune.heads``): each
    layer's count is then read from its graph (:func:`pin_head_counts`).
    Attention that works on another width than the hidden size (MobileBERT's
    bottleneck) is not what the BERT fusion models.
    """
    cfg = model.config
    layers = layer_description(model)
    if not layers:  # a BiLSTM or CNN student too: its config names no heads
        return "fusion skipped: no encoder layers to fuse"
    heads, hidden = int(cfg.num_attention_heads), int(cfg.hidden_size)
    size = hidden // heads if hidden % heads == 0 else None
    if any(layer["head_size"] != size for layer in layers):
        # MobileBERT: attention works in the bottleneck (true_hidden_size), which the BERT fusion does not model
        width = layers[0]["heads"] * layers[0]["head_size"]
        return f"fusion skipped: the attention works on width {width}, not the hidden size {hidden}"
    if any(layer["heads"] != heads for layer in layers):
        return 0, 0
    return heads, hidden


def fuse_where_possible(model: nn.Module, src: Path, sample: dict[str, torch.Tensor], notes: list[str],
                        purpose: str, **options) -> Path:
    """``src`` after ONNX Runtime's BERT fusion where the shapes allow it and the fused graph checks out; else ``src``.

    The note says exactly what was fused (or why nothing was), ``purpose`` saying
    for what (``"before int8 quantization"``). ``options`` go to :func:`fuse`;
    the fused graph is written beside ``src`` as ``fused.onnx``.
    """
    shape = fusion_shape(model)
    if isinstance(shape, str):
        notes.append(shape)
        return src
    with quiet_exporters():
        result = fuse(src, src.with_name("fused.onnx"), sample, *shape, kind=kind_of(model), **options)
    notes.append(result.describe(purpose))
    return result.file or src
