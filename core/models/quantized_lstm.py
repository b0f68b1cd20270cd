"""torch.ao's dynamically quantized LSTM (a BiLSTM student after ``quant.dynamic_int8``) as plain tensors, and back.

Its weights live in packed C++ objects that safetensors cannot hold (and pickles must not), so a folder stores
each weight matrix as its int8 codes with scale(s) and zero point(s), and each bias in float; the manifest entry
(``kind: dynamic_int8_lstm``) records the shapes and the quantization scheme. Rebuilding quantizes an empty
LSTM of those shapes the same way and puts the stored tensors in (``set_weight_bias``), so the reloaded module
computes exactly what the saved one did. :func:`float_lstm` is its float twin for the ONNX exporter.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn as nn

KIND = "dynamic_int8_lstm"


def lstm_type() -> type[nn.Module]:
    import torch.ao.nn.quantized.dynamic as nnqd

    return nnqd.LSTM


def is_quantized_lstm(module: nn.Module) -> bool:
    return isinstance(module, lstm_type())


def lstm_entry(path: str, module: nn.Module) -> dict[str, Any]:
    weights = module._weight_bias()["weight"]
    first = next(iter(weights.values()))
    scheme = "per_channel" if first.qscheme() in (torch.per_channel_affine,
                                                  torch.per_channel_affine_float_qparams) else "per_tensor"
    return {"path": path, "kind": KIND, "input_size": module.input_size, "hidden_size": module.hidden_size,
            "num_layers": module.num_layers, "bidirectional": bool(module.bidirectional),
            "batch_first": bool(module.batch_first), "bias": bool(module.bias), "qscheme": scheme}


def lstm_tensors(path: str, module: nn.Module) -> dict[str, torch.Tensor]:
    """``{path}.{weight}.int8 / .scale / .zero_point`` per weight matrix, ``{path}.{bias}`` per bias."""
    parts = module._weight_bias()
    out: dict[str, torch.Tensor] = {}
    for name, w in parts["weight"].items():
        out[f"{path}.{name}.int8"] = w.int_repr()
        if w.qscheme() in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
            out[f"{path}.{name}.scale"] = w.q_per_channel_scales().to(torch.float64)
            out[f"{path}.{name}.zero_point"] = w.q_per_channel_zero_points().to(torch.int64)
        else:
            out[f"{path}.{name}.scale"] = torch.tensor([w.q_scale()], dtype=torch.float64)
            out[f"{path}.{name}.zero_point"] = torch.tensor([w.q_zero_point()], dtype=torch.int64)
    for name, b in parts["bias"].items():
        if b is not None:
            out[f"{path}.{name}"] = b.detach().float()
    return out


class _Holder(nn.Module):
    def __init__(self, lstm: nn.Module):
        super().__init__()
        self.lstm = lstm


def build_lstm(entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> nn.Module:
    """The quantized LSTM ``entry`` describes, its weights popped from ``tensors``."""
    path = entry["path"]
    plain = nn.LSTM(int(entry["input_size"]), int(entry["hidden_size"]), int(entry["num_layers"]),
                    bias=bool(entry["bias"]), batch_first=bool(entry["batch_first"]),
                    bidirectional=bool(entry["bidirectional"]))
    per_channel = entry.get("qscheme") == "per_channel"
    with warnings.catch_warnings():
        # torch.ao's eager quantization is deprecated in favour of torchao (see core.methods.quantization.dynamic)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig if per_channel else \
            torch.ao.quantization.default_dynamic_qconfig
        module = torch.ao.quantization.quantize_dynamic(_Holder(plain), {"lstm": qconfig}, dtype=torch.qint8).lstm
        names = module._weight_bias()
        weights, biases = {}, {}
        for name in names["weight"]:
            ints = tensors.pop(f"{path}.{name}.int8")
            scale, zero = tensors.pop(f"{path}.{name}.scale"), tensors.pop(f"{path}.{name}.zero_point")
            if per_channel:
                weights[name] = torch._make_per_channel_quantized_tensor(ints, scale.double(), zero.long(), 0)
            else:
                weights[name] = torch._make_per_tensor_quantized_tensor(ints, float(scale.reshape(-1)[0]),
                                                                        int(zero.reshape(-1)[0]))
        for name in names["bias"]:
            biases[name] = tensors.pop(f"{path}.{name}", None)
        module.set_weight_bias({**weights, **biases})  # one flat dict, as torch.ao names them
    return module


def float_lstm(module: nn.Module) -> nn.LSTM:
    """A float ``nn.LSTM`` holding the quantized one's dequantized weights (what ONNX can express)."""
    lstm = nn.LSTM(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, bidirectional=module.bidirectional)
    parts = module._weight_bias()
    with torch.no_grad():
        for name, w in parts["weight"].items():
            getattr(lstm, name).copy_(w.dequantize())
        for name, b in parts["bias"].items():
            if b is not None:
                getattr(lstm, name).copy_(b)
    return lstm
