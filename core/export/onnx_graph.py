"""The float ONNX graph of a model: TorchScript exporter, eager attention, k-bit and int8 layers dequantized.

The graph's outputs are the task head's, named as transformers names them (and
Optimum's ``ORTModelFor...`` classes read them): ``logits`` ([batch, labels], or
[batch, sequence, labels] for token classification), or ``start_logits`` and
``end_logits`` ([batch, sequence]) for question answering.

Lessons from the reference runs (../shared/ENV.md): ONNX Runtime's BERT
optimizer fuses attention only in a graph exported by the TorchScript exporter
from an eager-attention model, so that is the exporter used here. What is done
to the graph afterwards (fusion, int8 or int4 weights) is
:mod:`core.export.onnx_fusion`, :mod:`core.export.onnx_int8` and
:mod:`core.export.onnx_int4`; :mod:`core.export.onnx_export` puts them together.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import torch
import torch.nn as nn

from core.errors import ExportError
from core.export.onnx_session import quiet_exporters
from core.models.heads import kind_of, output_names, per_token
from core.models.manifest import dynamic_linear_type, set_module
from core.models.quantized_lstm import float_lstm, lstm_type
from core.models.state import ModelState

ONNX_FILE = "model.onnx"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _HeadOutputs(nn.Module):
    """Positional inputs in a fixed order and the head's outputs only, so graph names cannot drift."""

    def __init__(self, model: nn.Module, names: tuple[str, ...], outputs: tuple[str, ...]):
        super().__init__()
        self.model, self.names, self.outputs = model, names, outputs

    def forward(self, *inputs):
        out = self.model(**dict(zip(self.names, inputs)))
        return tuple(getattr(out, name) for name in self.outputs)


def output_axes(kind: str) -> dict[str, dict[int, str]]:
    """The graph's outputs (named as transformers and Optimum name them) and their dynamic axes."""
    axes = {0: "batch", 1: "sequence"} if per_token(kind) else {0: "batch"}
    return {name: dict(axes) for name in output_names(kind)}


def input_names(model: nn.Module, tokenizer) -> tuple[str, ...]:
    accepted = inspect.signature(model.forward).parameters
    wanted = set(getattr(tokenizer, "model_input_names", _INPUTS) or _INPUTS)
    return tuple(n for n in _INPUTS if n in accepted and (n in wanted or n == "input_ids"))


def _kbit_types() -> tuple[type, type]:
    from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear

    return KBitLinear, KBitEmbedding


def _quantized_modules(model: nn.Module) -> bool:
    return any(isinstance(m, (dynamic_linear_type(), lstm_type(), *_kbit_types())) for m in model.modules())


def _float_kbit(module: nn.Module) -> nn.Module:
    """The float layer a k-bit one stands for, holding its dequantized weights (the tracer cannot unpack bits)."""
    weight = module.dequantized().detach().float()
    if isinstance(module, _kbit_types()[1]):
        return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=module.padding_idx)
    linear = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if module.bias is not None:
            linear.bias.copy_(module.bias.float())
    return linear


def dequantized_copy(model: nn.Module) -> nn.Module:
    """A float copy where each dynamic int8 or k-bit layer holds its dequantized weights (ONNX has no such op;
    the int8 and int4 exports quantize the graph again their own way)."""
    model = copy.deepcopy(model)
    kbit = _kbit_types()
    for name, module in list(model.named_modules()):
        if isinstance(module, kbit):
            set_module(model, name, _float_kbit(module))
        elif isinstance(module, lstm_type()):  # a BiLSTM student's int8 LSTM
            set_module(model, name, float_lstm(module))
        elif isinstance(module, dynamic_linear_type()):
            weight = module.weight()
            weight = weight.dequantize() if weight.is_quantized else weight.float()
            bias = module.bias()
            linear = nn.Linear(module.in_features, module.out_features, bias=bias is not None)
            with torch.no_grad():
                linear.weight.copy_(weight)
                if bias is not None:
                    linear.bias.copy_(bias)
            set_module(model, name, linear)
    return model


def _eager_copy(model: nn.Module) -> nn.Module:
    model = copy.deepcopy(model).to("cpu").eval()
    # sdpa attention leaves the graph unfusable; the attribute is read at every forward
    model.config._attn_implementation = "eager"
    return model


def export_graph(state: ModelState, file: Path, sample: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """Write the float ONNX graph of ``state`` to ``file``; returns its input names."""
    model = state.model
    if _quantized_modules(model):
        model = dequantized_copy(model)
    model = _eager_copy(model)
    names = input_names(model, state.tokenizer)
    args = tuple(sample[n].to("cpu") if n in sample else torch.zeros_like(sample["input_ids"]) for n in names)
    outputs = output_axes(kind_of(state.model))
    axes = {**{n: {0: "batch", 1: "sequence"} for n in names}, **outputs}
    try:
        with quiet_exporters(), torch.no_grad():
            torch.onnx.export(_HeadOutputs(model, names, tuple(outputs)), args, str(file), input_names=list(names),
                              output_names=list(outputs), dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except OSError:
        raise
    except Exception as exc:  # the tracer raises many types for an unsupported layer
        raise ExportError(f"the model could not be converted to ONNX: {type(exc).__name__}: {exc}") from exc
    return names
