"""Describe a (possibly non-uniformly compressed) BERT encoder from its module shapes.

After structured pruning the config no longer tells the truth (heads and FFN
sizes differ per layer), so the studio reads the architecture off the modules.
"""

from __future__ import annotations

import io
from typing import Any

import torch
import torch.nn as nn


def encoder_of(model: nn.Module) -> nn.Module:
    base = getattr(model, getattr(model, "base_model_prefix", "bert"), model)
    enc = getattr(base, "encoder", None)
    if enc is None or not hasattr(enc, "layer"):
        raise TypeError("this method needs a BERT-style encoder (model.bert.encoder.layer)")
    return enc


def _out_features(linear: nn.Module) -> int:
    if hasattr(linear, "out_features"):
        return int(linear.out_features)
    weight = linear.weight() if callable(getattr(linear, "weight", None)) else linear.weight
    return int(weight.shape[0])


def layer_shapes(model: nn.Module) -> list[dict[str, int]]:
    """Per layer: attention heads kept, head size, FFN width."""
    out = []
    for layer in encoder_of(model).layer:
        att = layer.attention.self
        head_size = int(att.attention_head_size)
        out.append({
            "heads": _out_features(att.query) // head_size,
            "head_size": head_size,
            "ffn": _out_features(layer.intermediate.dense),
        })
    return out


def count_parameters(model: nn.Module, nonzero: bool = False) -> int:
    """Unique parameters (shared tensors counted once); ``nonzero`` skips pruned zeros."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += int(torch.count_nonzero(p)) if nonzero else p.numel()
    for _, module in model.named_modules():
        if callable(getattr(module, "quantized_parameter_count", None)):  # k-bit weights live in buffers
            total += int(torch.count_nonzero(module.dequantized())) if nonzero else module.quantized_parameter_count()
        # dynamically quantized linears hold packed params
        packed = getattr(module, "_packed_params", None)
        if packed is not None and hasattr(module, "weight") and callable(module.weight):
            w = module.weight()
            total += int(torch.count_nonzero(w.dequantize())) if nonzero else w.numel()
            b = module.bias()
            if b is not None:
                total += b.numel()
    return total


def parameters_by_component(model: nn.Module) -> dict[str, int]:
    """Parameters grouped as embeddings / attention / ffn / head / other."""
    groups = {"embeddings": 0, "attention": 0, "ffn": 0, "head": 0, "other": 0}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if "embeddings" in name:
            key = "embeddings"
        elif ".attention." in name:
            key = "attention"
        elif ".intermediate." in name or (".output." in name and ".attention." not in name and "encoder" in name):
            key = "ffn"
        elif "classifier" in name or "pooler" in name:
            key = "head"
        else:
            key = "other"
        groups[key] += p.numel()
    return groups


def serialized_size(model: nn.Module) -> int:
    """Bytes of the model's state dict as saved (shared tensors stored once)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def describe(model: nn.Module) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    return {
        "model_type": getattr(cfg, "model_type", type(model).__name__),
        "layers": layer_shapes(model),
        "hidden_size": getattr(cfg, "hidden_size", None),
        "vocab_size": getattr(cfg, "vocab_size", None),
        "parameters": count_parameters(model),
        "by_component": parameters_by_component(model),
    }
