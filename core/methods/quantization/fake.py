"""Fake quantization with a straight-through estimator, for quantization-aware training (Q8BERT).

The forward pass rounds to the int8 grid; the backward pass lets the gradient
through unchanged (``x + (q(x) - x).detach()``), which is the STE of Q8BERT.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models.custom import register_module

QMAX = 127  # symmetric int8: codes -127..127


def fake_quant(x: torch.Tensor, scale: torch.Tensor, qmax: int = QMAX) -> torch.Tensor:
    """Round ``x`` to ``scale``'s symmetric grid, clamp to +-qmax, straight-through gradient."""
    q = torch.clamp(torch.round(x / scale), -qmax, qmax) * scale
    return x + (q - x).detach()


def weight_scale(weight: torch.Tensor, per_channel: bool, qmax: int = QMAX) -> torch.Tensor:
    w = weight.detach().abs()
    peak = w.amax(dim=1, keepdim=True) if per_channel else w.max()
    return peak.clamp_min(1e-8) / qmax


@register_module
class QATLinear(nn.Linear):
    """A linear layer that trains through int8 fake quantization of its weight and its input.

    It keeps ``weight`` and ``bias`` under their usual names (masks and shared
    parameters keep working); the input range is an EMA of the observed max
    |x| (buffer ``act_max``), frozen outside training.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, per_channel: bool = True,
                 ema_decay: float = 0.99, quantize_input: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.per_channel = per_channel
        self.ema_decay = ema_decay
        self.quantize_input = quantize_input
        self.register_buffer("act_max", torch.zeros(()))

    @classmethod
    def wrap(cls, linear: nn.Linear, **options) -> "QATLinear":
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = linear.in_features, linear.out_features
        new.weight, new.bias = linear.weight, linear.bias  # the same Parameters: sharing survives
        new.per_channel = options.get("per_channel", True)
        new.ema_decay = options.get("ema_decay", 0.99)
        new.quantize_input = options.get("quantize_input", True)
        new.register_buffer("act_max", torch.zeros((), device=linear.weight.device))
        return new

    def unwrap(self) -> nn.Linear:
        plain = nn.Linear.__new__(nn.Linear)
        nn.Module.__init__(plain)
        plain.in_features, plain.out_features = self.in_features, self.out_features
        plain.weight, plain.bias = self.weight, self.bias
        return plain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantize_input:
            # torch.where instead of .item(): no host-device sync per call on a GPU
            peak = x.detach().abs().amax().float().clamp_min(1e-8)
            if self.training:
                with torch.no_grad():
                    ema = self.act_max * self.ema_decay + (1 - self.ema_decay) * peak
                    self.act_max.copy_(torch.where(self.act_max > 0, ema, peak))
            limit = torch.where(self.act_max > 0, self.act_max, peak)  # before any training: this batch's range
            x = fake_quant(x, (limit / QMAX).to(x.dtype))
        w = fake_quant(self.weight, weight_scale(self.weight, self.per_channel).to(self.weight.dtype))
        return F.linear(x, w, self.bias)

    def module_spec(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None,
                "per_channel": self.per_channel, "ema_decay": self.ema_decay, "quantize_input": self.quantize_input}

    @classmethod
    def from_spec(cls, spec: dict) -> "QATLinear":
        return cls(**spec)
