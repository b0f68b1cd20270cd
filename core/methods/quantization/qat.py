"""``quant.qat``: quantization-aware training as in Q8BERT, ending in a real int8 model.

Every linear layer of the encoder (and optionally the head) trains through
symmetric int8 fake quantization of its weight (per tensor or per output
channel) and of its input (range from an EMA of the observed max |x|), with a
straight-through estimator. At the end the wrappers are removed and the
weights are converted to int8 with torch's dynamic quantization (CPU), which
quantizes activations per batch at run time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.engine.training import TrainSettings, train_model
from core.methods.quantization.dynamic import is_task_head, quantize_dynamic_int8
from core.methods.quantization.fake import QATLinear
from core.registry import register_method, setting

QUANT_KEY = "quantization"  # state.extras: how the weights were converted (plain data, for export)


@dataclass
class QATSettings(TrainSettings):
    per_channel: bool = setting(True, "One weight scale per output channel (more accurate) instead of one per tensor")
    quantize_activations: bool = setting(True, "Fake-quantize each linear layer's input too (ranges by EMA)")
    ema_decay: float = setting(0.99, "Decay of the moving average of activation ranges", min=0.0, max=0.99999)
    include_classifier: bool = setting(False, "Quantize the classification head too")


def _targets(model: nn.Module, include_classifier: bool) -> list[str]:
    names = [n for n, m in model.named_modules() if type(m) is nn.Linear]
    return names if include_classifier else [n for n in names if not is_task_head(n)]


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def insert_fake_quant(model: nn.Module, cfg: QATSettings) -> list[str]:
    """Swap the target linears for :class:`QATLinear` in place; returns their names."""
    names = _targets(model, cfg.include_classifier)
    for name in names:
        _set(model, name, QATLinear.wrap(model.get_submodule(name), per_channel=cfg.per_channel,
                                         ema_decay=cfg.ema_decay, quantize_input=cfg.quantize_activations))
    return names


def remove_fake_quant(model: nn.Module) -> nn.Module:
    for name, module in list(model.named_modules()):
        if isinstance(module, QATLinear):
            _set(model, name, module.unwrap())
    return model


def convert_int8(model: nn.Module, names: list[str], per_channel: bool) -> nn.Module:
    """Dynamic int8 conversion of ``names``, per tensor (the shared helper) or per channel."""
    if not per_channel:
        return quantize_dynamic_int8(model, include_classifier=any(is_task_head(n) for n in names))
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    model = model.to("cpu").eval()
    with warnings.catch_warnings():
        # deprecated torch.ao eager path, kept on purpose: fastest int8 on AVX2 CPUs (see dynamic.py)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8)


@register_method(
    "quant.qat",
    family="quantization",
    title="Quantization-aware training (int8)",
    description="Fine-tune with int8 fake quantization of weights and activations (Q8BERT), then convert to a real "
    "int8 model (CPU). No training is possible afterwards.",
    config=QATSettings,
    trains=True,
    freezes=True,
    phrase="QAT int8",
)
def qat(state, cfg: QATSettings, ctx):
    model = state.model
    names = insert_fake_quant(model, cfg)
    ctx.log(f"quantization-aware training on {len(names)} linear layers")
    try:
        model = train_model(ctx, model, cfg, ctx.task, masks=state.masks, prefix="qat")
    finally:
        remove_fake_quant(model)
    ctx.progress(0, 1, "converting to int8", force=True)
    model = convert_int8(model, names, cfg.per_channel)
    ctx.progress(1, 1, "converted", force=True)
    new = state.replace(model=model, quantized=True)
    new.extras[QUANT_KEY] = {"kind": "dynamic_int8", "per_channel": cfg.per_channel, "modules": names}
    return new
