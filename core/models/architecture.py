"""Describe a (possibly non-uniformly compressed) BERT encoder from its module shapes.

After structured pruning the config no longer tells the truth (heads and FFN
sizes differ per layer), so the studio reads the architecture off the modules.
"""

from __future__ import annotations

import io
from typing import Any

import torch
import torch.nn as nn

from core.tasks.head_info import model_head


def encoder_of(model: nn.Module) -> nn.Module:
    """The module holding ``.layer`` (BERT, RoBERTa, DistilBERT, DeBERTa, MobileBERT); prefer :func:`layers_of`."""
    from core.models.adapters import adapter_for

    try:
        adapter = adapter_for(model)
        owner_path = adapter.layers_path.rpartition(".")[0]
        enc = adapter.base(model).get_submodule(owner_path) if owner_path else None
    except (TypeError, AttributeError):
        enc = None
    if enc is None or not hasattr(enc, "layer"):
        raise TypeError("this model has no BERT-style encoder.layer list; use core.models.adapters")
    return enc


def layers_of(model: nn.Module) -> list[nn.Module]:
    """The model's encoder layers, one per position (ALBERT: its shared layers), through its family's adapter."""
    from core.models.adapters import adapter_for

    return adapter_for(model).layers(model)


def _out_features(linear: nn.Module) -> int:
    from core.models.adapters.base import out_features

    return out_features(linear)


def layer_shapes(model: nn.Module) -> list[dict[str, int]]:
    """Per layer: attention heads kept, head size, FFN width (read off the module shapes)."""
    from core.models.adapters import adapter_for

    return adapter_for(model).layer_shapes(model)


def adapted(model: nn.Module) -> bool:
    """Whether an architecture adapter knows ``model`` (a BiLSTM or CNN student: no)."""
    from core.models.adapters import FamilyRefusal, adapter_for

    try:
        adapter_for(model)
    except FamilyRefusal:
        return False
    return True


COMPONENTS = ("embeddings", "attention", "ffn", "head", "other")


def component_of(module_name: str) -> str:
    """The component a module (or parameter) belongs to, from its qualified name."""
    name = f".{module_name}."
    if ".embeddings." in name or ".embedding_hidden_mapping_in." in name:
        return "embeddings"
    if ".attention." in name or ".attn." in name:
        return "attention"
    in_layer = ".encoder." in name or ".transformer." in name or ".layers." in name
    if in_layer and any(f".{part}." in name for part in ("intermediate", "output", "ffn", "ffn_output", "mlp")):
        return "ffn"
    if any(f".{part}." in name for part in ("classifier", "pooler", "pre_classifier", "head")):
        return "head"
    return "other"


def _tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor holds; a quantized tensor counts its integer codes plus its scales and zero points."""
    if t.is_quantized:
        extra = 0
        if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric,
                           torch.per_channel_affine_float_qparams):
            extra = t.q_per_channel_scales().nbytes + t.q_per_channel_zero_points().nbytes
        else:
            extra = 8 + 8  # one float64 scale and one int64 zero point
        return t.numel() * t.element_size() + extra
    return t.numel() * t.element_size()


def _count(t: torch.Tensor, nonzero: bool) -> int:
    if not nonzero:
        return t.numel()
    return int(torch.count_nonzero(t.dequantize() if t.is_quantized else t))


def _holdings(model: nn.Module, nonzero: bool = False):
    """``(module name, weights, bytes)`` for what each module holds itself (its children excluded).

    Weights are counted by what they represent, whatever the storage: float
    parameters, torch.ao dynamic int8 linears (packed parameters), and the
    project's k-bit modules (packed codes in buffers). Shared tensors and
    modules are counted once. Bytes are those of the tensors as held (int8
    codes with their scales, float16 scales, float32 parameters).
    """
    seen: set[int] = set()
    for name, module in model.named_modules():
        count = size = 0
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            count += _count(p, nonzero)
            size += _tensor_bytes(p)
        skip = getattr(module, "_non_persistent_buffers_set", set())
        kbit = callable(getattr(module, "quantized_parameter_count", None))
        for buffer_name, b in module.named_buffers(recurse=False):
            if b is None or buffer_name in skip or id(b) in seen:
                continue
            seen.add(id(b))
            size += _tensor_bytes(b)
        if kbit:  # k-bit weights live in buffers of packed codes
            count += _count(module.dequantized(), nonzero) if nonzero else module.quantized_parameter_count()
        packed = getattr(module, "_packed_params", None)
        if packed is not None and callable(getattr(module, "weight", None)) and callable(getattr(module, "bias", None)):
            # torch.ao dynamic int8 linear: int8 weight and float bias packed together
            w, bias = module.weight(), module.bias()
            count += _count(w, nonzero)
            size += _tensor_bytes(w)
            if bias is not None:
                count += _count(bias, nonzero)
                size += _tensor_bytes(bias)
        lstm = getattr(module, "_weight_bias", None)
        if callable(lstm) and hasattr(module, "_all_weight_values"):  # torch.ao dynamic int8 LSTM (a student's)
            for t in (t for group in lstm().values() for t in group.values() if t is not None):
                count += _count(t, nonzero)
                size += _tensor_bytes(t)
        if count or size:
            yield name, count, size


def count_parameters(model: nn.Module, nonzero: bool = False) -> int:
    """Unique weights, quantized and packed ones included (shared tensors counted once); ``nonzero`` skips zeros."""
    return sum(count for _, count, _ in _holdings(model, nonzero))


def weights_by_component(model: nn.Module) -> dict[str, dict[str, int]]:
    """``{component: {"parameters": n, "bytes": b}}`` for embeddings / attention / ffn / head / other.

    The parameters add up to :func:`count_parameters`, so shares of the total add to 100 %.
    """
    out = {key: {"parameters": 0, "bytes": 0} for key in COMPONENTS}
    for name, count, size in _holdings(model):
        entry = out[component_of(name)]
        entry["parameters"] += count
        entry["bytes"] += size
    return out


def parameters_by_component(model: nn.Module) -> dict[str, int]:
    """Parameters grouped as embeddings / attention / ffn / head / other (see :func:`weights_by_component`)."""
    return {key: entry["parameters"] for key, entry in weights_by_component(model).items()}


def serialized_size(model: nn.Module) -> int:
    """Bytes of the model's state dict as saved (shared tensors stored once)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def describe(model: nn.Module) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    components = weights_by_component(model)
    return {
        "model_type": getattr(cfg, "model_type", type(model).__name__),
        "layers": layer_shapes(model) if adapted(model) else [],  # a BiLSTM / CNN student has no encoder layers
        "hidden_size": getattr(cfg, "hidden_size", None),
        "vocab_size": getattr(cfg, "vocab_size", None),
        "parameters": sum(entry["parameters"] for entry in components.values()),
        "by_component": {key: entry["parameters"] for key, entry in components.items()},
        "bytes_by_component": {key: entry["bytes"] for key, entry in components.items()},
        "head": model_head(model),  # its task, class and outputs (the inspector names them)
    }
