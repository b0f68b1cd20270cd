"""``quant.kbit``: k-bit weight quantization (2 to 8 bits) with per-layer bit widths (Q-BERT style).

Linear layers of the encoder become :class:`KBitLinear` (packed codes plus
float16 scales), optionally the embeddings :class:`KBitEmbedding` and the head
too. ``layer_bits`` gives encoder layers their own width, mixed precision as
in Q-BERT, where layers that matter more keep more bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from core.methods.family import checked_adapter
from core.errors import StudioError
from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear
from core.methods.quantization.qat import QUANT_KEY
from core.models.architecture import layers_of, serialized_size
from core.registry import register_method, setting


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

    def validate(self):
        try:
            parse_layer_bits(self.layer_bits, None)
        except StudioError as exc:
            return [("layer_bits", str(exc))]
        return []


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
        is_head = name.startswith("classifier") or ".pooler" in name or name.startswith("pooler")
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
    "width per encoder layer (Q-BERT). Shrinks the file; weights are expanded on use.",
    config=KBitSettings,
    freezes=True,
)
def kbit(state, cfg: KBitSettings, ctx):
    checked_adapter("quant.kbit", state, cfg, ctx)
    before = serialized_size(state.model)
    ctx.progress(0, 1, "quantizing", force=True)
    done = quantize_kbit(state.model, cfg)
    ctx.progress(1, 1, "quantized", force=True)
    after = serialized_size(state.model)
    ctx.metric("model/size_bytes", after)
    ctx.log(f"k-bit quantization of {len(done)} modules: {before:,} -> {after:,} bytes")
    new = state.replace(quantized=True)
    new.extras[QUANT_KEY] = {"kind": "kbit", "bits": done}
    return new
