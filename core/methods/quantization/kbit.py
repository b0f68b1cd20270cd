"""``quant.kbit``: k-bit weight quantization (2 to 8 bits) with per-layer bit widths (Q-BERT style).

Linear layers of the encoder become :class:`KBitLinear` (packed codes plus
float16 scales), optionally the embeddings :class:`KBitEmbedding` and the head
too. ``layer_bits`` gives encoder layers their own width, mixed precision as
in Q-BERT, where layers that matter more keep more bits. With
``bits_from: hessian`` the widths are chosen instead: each layer's Hessian
sensitivity on a few training batches, then the allocation of
``candidate_bits`` that fits ``budget_bits`` (see :mod:`.hessian`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch.nn as nn

from core.errors import StudioError
from core.methods.quantization import hessian
from core.methods.quantization.dynamic import is_task_head
from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear
from core.methods.quantization.qat import QUANT_KEY
from core.models.architecture import layers_of, serialized_size
from core.methods.pruning.importance import task_batches
from core.registry import register_method, setting

ALLOCATION_KEY = "allocation"  # in state.extras["quantization"]: the Hessian allocation (plain data)


@dataclass
class KBitSettings:
    bits: int = setting(4, "Bits per weight in the encoder's linear layers", min=2, max=8)
    symmetric: bool = setting(True, "Symmetric grid around zero (zero stays exact) instead of min-max (asymmetric)")
    granularity: str = setting("group", "One scale per output channel, or per group of input weights",
                               choices=("channel", "group"))
    group_size: int = setting(128, "Weights per scale when group-wise", min=8, max=65536)
    layer_bits: list = setting([], "Per-layer bits: one number per encoder layer (4, 8, 4...), or 'layer:bits' "
                               "entries (0:8, 5:2); empty: every layer uses 'bits'")
    quantize_embeddings: bool = setting(False, "Quantize the embedding tables too")
    embedding_bits: int = setting(8, "Bits per weight of the embedding tables", min=2, max=8)
    include_head: bool = setting(False, "Quantize the pooler and classifier too")
    bits_from: str = setting("manual", "Where the encoder layers' bits come from: 'bits' and 'layer_bits' as typed, "
                             "or chosen per layer from a Hessian sensitivity under 'budget_bits' (Q-BERT)",
                             choices=("manual", "hessian"))
    budget_bits: float = setting(4.0, "Hessian mode: average code bits per weight over the encoder's linear layers "
                                 "(scales not counted); never exceeded", min=2.0, max=8.0)
    candidate_bits: list = setting([2, 3, 4, 8], "Hessian mode: the bit widths a layer may get")
    sensitivity: str = setting("eigenvalue", "Hessian mode: top Hessian eigenvalue (Q-BERT, power iteration) or "
                               "Hutchinson's trace estimate per weight (HAWQ-V2)", choices=("eigenvalue", "trace"))
    hessian_batches: int = setting(4, "Hessian mode: training batches to measure on (the sensitivity is their mean)",
                                   min=1, max=1000)
    hessian_batch_size: int = setting(16, "Hessian mode: sentences per batch", min=1, max=1024)
    hessian_iterations: int = setting(20, "Hessian mode: power iterations (at most), or Hutchinson samples, per "
                                      "layer and batch", min=1, max=1000)

    def validate(self):
        problems = []
        try:
            parse_layer_bits(self.layer_bits, None)
        except StudioError as exc:
            problems.append(("layer_bits", str(exc)))
        try:
            candidates = parse_candidate_bits(self.candidate_bits)
        except StudioError as exc:
            problems.append(("candidate_bits", str(exc)))
            candidates = []
        if self.bits_from == "hessian":
            if self.layer_bits:
                problems.append(("layer_bits", "per-layer bits are chosen from the Hessian when bits_from is "
                                 "'hessian'; leave layer_bits empty (or set bits_from to 'manual')"))
            if candidates and self.budget_bits < candidates[0]:
                problems.append(("budget_bits", f"a budget of {self.budget_bits:g} bits is below the smallest "
                                 f"candidate ({candidates[0]} bits): no allocation fits"))
        return problems


def parse_candidate_bits(entries) -> list[int]:
    """``[2, 3, 4, 8]`` (or their text) -> sorted distinct widths, each 2..8."""
    if isinstance(entries, str):
        entries = [e for e in entries.replace(",", " ").split()]
    try:
        out = sorted({int(str(e)) for e in entries})
    except ValueError:
        raise StudioError(f"cannot read candidate bits {entries!r}; expected numbers like 2, 4, 8") from None
    if not out:
        raise StudioError("give at least one candidate bit width")
    bad = [b for b in out if not 2 <= b <= 8]
    if bad:
        raise StudioError(f"candidate bits must be between 2 and 8, got {bad[0]}")
    return out


def parse_layer_bits(entries: list, n_layers: int | None) -> dict[int, int]:
    """``[4, 8]`` (one per layer) or ``["0:8", "3:2"]`` -> {layer: bits}; checks ranges."""
    out: dict[int, int] = {}
    if not entries:
        return out
    pairs = [str(e) for e in entries]
    try:
        if all(":" in p for p in pairs):
            for p in pairs:
                layer, bits = p.split(":", 1)
                out[int(layer)] = int(bits)
        elif not any(":" in p for p in pairs):
            out = {i: int(p) for i, p in enumerate(pairs)}
            if n_layers is not None and len(out) != n_layers:
                raise StudioError(f"{len(out)} bit widths given for {n_layers} encoder layers")
        else:
            raise StudioError("use either one number per layer or 'layer:bits' entries, not both")
    except ValueError:
        raise StudioError(f"cannot read per-layer bits {entries!r}; expected numbers like 4 or 'layer:bits'") from None
    for layer, bits in out.items():
        if not 2 <= bits <= 8:
            raise StudioError(f"layer {layer}: bits must be between 2 and 8, got {bits}")
        if layer < 0 or (n_layers is not None and layer >= n_layers):
            raise StudioError(f"layer {layer} does not exist (the encoder has {n_layers} layers)")
    return out


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def quantize_kbit(model: nn.Module, cfg: KBitSettings) -> dict[str, int]:
    """Replace the chosen layers in place; returns the bits given to each replaced module."""
    group = cfg.group_size if cfg.granularity == "group" else 0
    layers = layers_of(model)
    per_layer = parse_layer_bits(cfg.layer_bits, len(layers))
    # A layer module used at several depths (shared) is quantized once, with its first position's bits.
    layer_of: dict[int, int] = {}
    for i, layer in enumerate(layers):
        layer_of.setdefault(id(layer), i)
    position: dict[int, int] = {}
    for layer in layers:
        for m in layer.modules():
            position[id(m)] = layer_of[id(layer)]
    done: dict[str, int] = {}
    for name, module in list(model.named_modules()):
        is_head = is_task_head(name) or ".pooler" in name or name.startswith("pooler")
        if isinstance(module, nn.Linear) and (id(module) in position or (is_head and cfg.include_head)):
            bits = per_layer.get(position.get(id(module), -1), cfg.bits)
            _set(model, name, KBitLinear.from_linear(module, bits, group, cfg.symmetric))
            done[name] = bits
        elif isinstance(module, nn.Embedding) and cfg.quantize_embeddings:
            _set(model, name, KBitEmbedding.from_embedding(module, cfg.embedding_bits, group, cfg.symmetric))
            done[name] = cfg.embedding_bits
    return done


@register_method(
    "quant.kbit",
    family="quantization",
    title="k-bit weights (mixed precision)",
    description="Store weights as 2- to 8-bit integers with per-channel or group-wise scales, optionally with a bit "
    "width per encoder layer, typed or chosen from each layer's Hessian sensitivity under an average-bits budget "
    "(Q-BERT). Shrinks the file; weights are expanded on use.",
    config=KBitSettings,
    freezes=True,
    phrase=lambda s: f"{s.budget_bits:g}-bit average (Hessian)" if s.bits_from == "hessian" else f"{s.bits}-bit",
)
def kbit(state, cfg: KBitSettings, ctx):
    before = serialized_size(state.model)
    allocation = None
    if cfg.bits_from == "hessian":
        allocation = hessian_allocation(state.model, cfg, ctx)
        cfg = replace(cfg, layer_bits=allocation["layer_bits"])
    ctx.progress(0, 1, "quantizing", force=True)
    done = quantize_kbit(state.model, cfg)
    ctx.progress(1, 1, "quantized", force=True)
    after = serialized_size(state.model)
    ctx.metric("model/size_bytes", after)
    ctx.log(f"k-bit quantization of {len(done)} modules: {before:,} -> {after:,} bytes")
    new = state.replace(quantized=True)
    new.extras[QUANT_KEY] = {"kind": "kbit", "bits": done}
    if allocation is not None:
        new.extras[QUANT_KEY][ALLOCATION_KEY] = allocation
    return new


def hessian_allocation(model: nn.Module, cfg: KBitSettings, ctx) -> dict:
    """Measure each layer's Hessian sensitivity, choose its bits under the budget; log, emit and return it."""
    candidates = parse_candidate_bits(cfg.candidate_bits)
    group = cfg.group_size if cfg.granularity == "group" else 0
    distinct, position = hessian.unique_layers(layers_of(model))
    total = cfg.hessian_batches
    ctx.progress(0, total, "Hessian sensitivity", force=True)
    sens = hessian.layer_sensitivity(
        model, distinct, task_batches(ctx, model, "train", cfg.hessian_batch_size, cfg.hessian_batches),
        cfg.sensitivity, cfg.hessian_iterations, ctx.recipe.seed, check=ctx.check,
        progress=lambda done: ctx.progress(done, total, f"Hessian sensitivity: batch {done}/{total}"))
    errors = hessian.layer_errors(distinct, candidates, group, cfg.symmetric)
    sizes = [sum(w.numel() for w in hessian.linear_weights(layer)) for layer in distinct]
    try:
        chosen = hessian.allocate_bits(sens.mean, errors, sizes, candidates, cfg.budget_bits)
    except ValueError as exc:
        raise StudioError(f"quant.kbit: {exc}") from None
    average = hessian.average_bits(chosen, sizes)
    shared = len(distinct) < len(position)
    rows = [f"{'layer':>5}  {cfg.sensitivity:>12}  {'std':>10}  {'bits':>4}"]
    for i, (m, sd, b) in enumerate(zip(sens.mean, sens.std, chosen)):
        rows.append(f"{i:>5}  {m:>12.4g}  {sd:>10.3g}  {b:>4}")
        ctx.metric(f"quant/sensitivity/layer_{i}", m)
        ctx.metric(f"quant/bits/layer_{i}", b)
    ctx.metric("quant/bits/average", average)
    ctx.log(f"Hessian bit allocation ({cfg.sensitivity}, mean of {len(sens.samples[0])} batches; budget "
            f"{cfg.budget_bits:g} bits, candidates {candidates}): {average:.3g} bits per weight on average"
            + (" (layers shared across depths counted once)" if shared else "") + "\n" + "\n".join(rows))
    if len(set(chosen)) == 1:
        why = ("the budget allows the widest candidate everywhere" if chosen[0] == candidates[-1] else
               "the budget allows no layer more than the others" if chosen[0] == candidates[0] else
               "spreading the bits evenly gives the smallest weighted error for this budget")
        ctx.log(f"every layer got {chosen[0]} bits: {why}")
    return {"sensitivity_measure": cfg.sensitivity, "sensitivity": sens.mean, "sensitivity_std": sens.std,
            "candidate_bits": candidates, "budget_bits": cfg.budget_bits, "average_bits": average,
            "weights": sizes, "bits": chosen, "layer_bits": [chosen[p] for p in position]}
