"""Post-training dynamic int8 quantization of linear layers (CPU inference)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.registry import register_method, setting


@dataclass
class DynamicInt8Settings:
    include_classifier: bool = setting(False, "Quantize the classification head too (usually costs accuracy for no speed)")


def quantize_dynamic_int8(model: nn.Module, include_classifier: bool = False) -> nn.Module:
    model = model.to("cpu").eval()
    targets = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    if not include_classifier:
        targets = {n for n in targets if not n.startswith("classifier")}
    with warnings.catch_warnings():
        # torch.ao's eager quantization is deprecated in favour of torchao, whose
        # int8 kernels are slower in eager mode on CPUs without VNNI (ENV.md)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, targets, dtype=torch.qint8)


@register_method(
    "quant.dynamic_int8",
    family="quantization",
    title="Dynamic int8 (post-training)",
    description="Convert linear layers to int8 weights with activations quantized on the fly. "
    "CPU only; no training is possible afterwards.",
    config=DynamicInt8Settings,
    freezes=True,
)
def dynamic_int8(state, cfg: DynamicInt8Settings, ctx):
    ctx.progress(0, 1, "quantizing", force=True)
    model = quantize_dynamic_int8(state.model, cfg.include_classifier)
    ctx.progress(1, 1, "quantized", force=True)
    return state.replace(model=model, quantized=True)
