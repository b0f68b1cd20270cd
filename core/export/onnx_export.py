"""ONNX export (TorchScript exporter, eager attention) and the ONNX Runtime int8 variant.

Lessons from the reference runs (../shared/ENV.md): ONNX Runtime's BERT
optimizer fuses attention only in a graph exported by the TorchScript exporter
from an eager-attention model, and quantizing the fused graph needs
``DefaultTensorType``; ``per_channel`` + ``reduce_range`` keep int8 accuracy
on CPUs without VNNI. Layers with different head counts (``prune.heads``)
fuse too: :mod:`core.export.onnx_fusion` writes each layer's count into its
graph and checks the fused graph before it is used. 4-bit weights:
:mod:`core.export.onnx_int4`.
"""

from __future__ import annotations

import copy
import inspect
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from core.errors import ExportError
from core.models.manifest import dynamic_linear_type, layer_description, set_module
from core.models.state import ModelState

ONNX_FILE = "model.onnx"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _LogitsOnly(nn.Module):
    """Positional inputs in a fixed order and a single output, so graph input names cannot drift."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.names, inputs))).logits


def input_names(model: nn.Module, tokenizer) -> tuple[str, ...]:
    accepted = inspect.signature(model.forward).parameters
    wanted = set(getattr(tokenizer, "model_input_names", _INPUTS) or _INPUTS)
    return tuple(n for n in _INPUTS if n in accepted and (n in wanted or n == "input_ids"))


def _kbit_types() -> tuple[type, type]:
    from core.methods.quantization.kbit_modules import KBitEmbedding, KBitLinear

    return KBitLinear, KBitEmbedding


def _quantized_modules(model: nn.Module) -> bool:
    return any(isinstance(m, (dynamic_linear_type(), *_kbit_types())) for m in model.modules())


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


@contextmanager
def _quiet_exporters():
    """Silence the exporters' advisory output; verification below is what tells us the graph is right."""
    root = logging.getLogger()
    # a Filter named after no logger drops every record logged on root itself, where
    # onnxruntime.quantization writes its advice; other loggers propagate past it
    drop_root = logging.Filter("bert-studio-export")
    root.addFilter(drop_root)
    try:
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated (DeprecationWarning) and traces with
            # TracerWarnings/UserWarnings about shapes; the dynamo exporter cannot be fused (ENV.md)
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop_root)


def export_graph(state: ModelState, file: Path, sample: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """Write the float ONNX graph of ``state`` to ``file``; returns its input names."""
    model = state.model
    if _quantized_modules(model):
        model = dequantized_copy(model)
    model = _eager_copy(model)
    names = input_names(model, state.tokenizer)
    args = tuple(sample[n].to("cpu") if n in sample else torch.zeros_like(sample["input_ids"]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    try:
        with _quiet_exporters(), torch.no_grad():
            torch.onnx.export(_LogitsOnly(model, names), args, str(file), input_names=list(names),
                              output_names=["logits"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except OSError:
        raise
    except Exception as exc:  # the tracer raises many types for an unsupported layer
        raise ExportError(f"the model could not be converted to ONNX: {type(exc).__name__}: {exc}") from exc
    return names


def _fusable(model: nn.Module) -> tuple[int, int] | str:
    """The shape to give ONNX Runtime's BERT fusion, or why it is not tried.

    ``(heads, hidden)`` when every layer has the configured attention shape;
    ``(0, 0)`` when layers kept different head counts (``prune.heads``): each
    layer's count is then read from its graph (:mod:`core.export.onnx_fusion`).
    Attention that works on another width than the hidden size (MobileBERT's
    bottleneck) is not what the BERT fusion models.
    """
    cfg = model.config
    layers = layer_description(model)
    heads, hidden = int(cfg.num_attention_heads), int(cfg.hidden_size)
    if not layers:
        return "fusion skipped: no encoder layers to fuse"
    size = hidden // heads if hidden % heads == 0 else None
    if any(layer["head_size"] != size for layer in layers):
        # MobileBERT: attention works in the bottleneck (true_hidden_size), which the BERT fusion does not model
        width = layers[0]["heads"] * layers[0]["head_size"]
        return f"fusion skipped: the attention works on width {width}, not the hidden size {hidden}"
    if any(layer["heads"] != heads for layer in layers):
        return 0, 0
    return heads, hidden


def _not_weight_matmuls(file: Path) -> list[str]:
    """MatMul nodes whose constant right-hand side is not a 2-D weight matrix.

    DeBERTa (v1) projects its relative-position embeddings, which are
    parameters, so once ONNX Runtime's optimizer folds constants the attention's
    position MatMuls have a constant 4-D right-hand side (batch x heads x ...).
    The quantizer would quantize it per channel, and the session then fails at
    run time ("b zero point is not valid"); those MatMuls are not weights of a
    linear layer anyway, so they stay in float.
    """
    import onnx

    graph = onnx.load(str(file), load_external_data=False).graph
    rank = {init.name: len(init.dims) for init in graph.initializer}
    return [node.name for node in graph.node
            if node.op_type == "MatMul" and len(node.input) > 1 and rank.get(node.input[1], 2) != 2]


def fuse_for_quantization(state: ModelState, src: Path, sample: dict[str, torch.Tensor], notes: list[str],
                          purpose: str = "before int8 quantization", **options) -> Path:
    """``src`` after ONNX Runtime's BERT fusion where the shapes allow it and the fused graph checks out; else ``src``.

    The note says exactly what was fused (or why nothing was). ``options`` go to
    :func:`core.export.onnx_fusion.fuse`.
    """
    from core.export.onnx_fusion import fuse

    shape = _fusable(state.model)
    if isinstance(shape, str):
        notes.append(shape)
        return src
    with _quiet_exporters():
        result = fuse(src, src.with_name("fused.onnx"), sample, *shape, **options)
    notes.append(result.describe(purpose))
    return result.file or src


def quantize_graph(state: ModelState, src: Path, dst: Path, notes: list[str],
                   sample: dict[str, torch.Tensor], fusion: bool = True) -> None:
    """ONNX Runtime dynamic int8 (per channel, reduced range), after BERT fusion when the shapes allow it.

    ``fusion=False`` quantizes the graph as exported (the benchmark's baseline).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options: dict[str, Any] = {}
    graph = fuse_for_quantization(state, src, sample, notes) if fusion else src
    if not fusion:
        notes.append("fusion not requested: quantized as exported")
    if graph != src:
        options["DefaultTensorType"] = onnx.TensorProto.FLOAT
    with _quiet_exporters():
        exclude = _not_weight_matmuls(graph)
        if exclude:
            notes.append(f"{len(exclude)} attention MatMul(s) on constant position tensors kept in float "
                         "(ONNX Runtime's int8 MatMul takes only a 2-D weight)")
        try:
            quantize_dynamic(str(graph), str(dst), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                             nodes_to_exclude=exclude, extra_options=options)
        except OSError:
            raise
        except Exception as exc:
            raise ExportError(f"ONNX Runtime int8 quantization failed: {type(exc).__name__}: {exc}") from exc
    if graph != src:
        graph.unlink(missing_ok=True)


FUSION_MIN_GAIN = 0.05  # the unfused graph must be this much faster to replace the fused one
FUSION_MIN_MS = 5.0  # below this per batch (a tiny model), timing noise decides: the fused graph stays


def _ms_per_batch(files: dict[str, Path], sample: dict[str, torch.Tensor], rounds: int = 5) -> dict[str, float]:
    """Median milliseconds per batch of each ONNX graph on ``sample``, timed in alternation (the latency protocol)."""
    from core.metrics.latency import as_callable, batch_protocol, time_rounds

    runners = {name: OnnxRunner(file) for name, file in files.items()}
    timing = time_rounds({name: as_callable(r, [sample]) for name, r in runners.items()}, batch_protocol(sample, rounds))
    return {name: timing.latency(name).value for name in files}


def quantize_fastest(state: ModelState, src: Path, dst: Path, notes: list[str], sample: dict[str, torch.Tensor]) -> None:
    """int8 with ONNX Runtime's fusion, or without it where that is measurably faster on this machine.

    ONNX Runtime runs an unfused int8 graph with its own int8 matrix kernels and a fused one through
    QAttention, which can be the slower of the two (0.86x on an AVX512 CPU: bench/export_fusion.py).
    Both are quantized and timed in alternation on the verification batch; the note gives both times.
    """
    import onnx

    from core.export.onnx_fusion import FUSED_OPS, op_counts

    fused_notes: list[str] = []
    quantize_graph(state, src, dst, fused_notes, sample, fusion=True)
    counts = op_counts(onnx.load(str(dst)))
    if not any(counts[op] for op in (*FUSED_OPS, "QAttention")):
        notes.extend(fused_notes)
        return
    plain = dst.with_name("unfused.onnx")
    quantize_graph(state, src, plain, [], sample, fusion=False)
    try:
        times = _ms_per_batch({"fused": dst, "unfused": plain}, sample)
        fused_ms, plain_ms = times["fused"], times["unfused"]
        timed = f"{plain_ms:.1f} ms per batch unfused against {fused_ms:.1f} ms fused, timed in alternation " \
                f"on the {tuple(sample['input_ids'].shape)} verification batch"
        if fused_ms >= FUSION_MIN_MS and plain_ms < fused_ms * (1 - FUSION_MIN_GAIN):
            plain.replace(dst)
            notes.append(f"int8 graph kept unfused, ONNX Runtime's fusion being slower here: {timed}")
            return
        notes.extend(fused_notes)
        notes.append(f"fused int8 graph kept: {timed}")
    finally:
        plain.unlink(missing_ok=True)


def write_onnx_folder(state: ModelState, folder: Path, sample: dict[str, torch.Tensor], int8: bool,
                      int4: bool = False) -> dict[str, Any]:
    """``model.onnx`` (float, int8 or int4 weights), ``config.json`` and the tokenizer files in ``folder``."""
    notes: list[str] = []
    target = folder / ONNX_FILE
    if int8 or int4:
        float_file = folder / "float.onnx"
        export_graph(state, float_file, sample)
        if int4:
            from core.export.onnx_int4 import quantize_int4

            quantize_int4(state, float_file, target, notes, sample)
        else:
            quantize_fastest(state, float_file, target, notes, sample)
        float_file.unlink(missing_ok=True)
    else:
        export_graph(state, target, sample)
    if state.quantized:
        notes.append("the torch int8 weights were dequantized for ONNX (activations are no longer quantized)")
    config = copy.deepcopy(state.model.config)
    config.architectures = [type(state.model).__name__]
    config.save_pretrained(folder)  # label names and shapes for whoever serves the graph
    if state.tokenizer is not None:
        state.tokenizer.save_pretrained(str(folder))
    return {"notes": notes, "file": ONNX_FILE}


class OnnxRunner:
    """An ONNX Runtime session that takes the same keyword batch as the torch model (for timing and checks)."""

    def __init__(self, file: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # idle worker threads otherwise spin after each run and slow down the torch
        # model timed right after it (latency is measured in alternation)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
            raise ExportError(f"ONNX Runtime cannot open the exported graph: {exc}") from exc
        self.inputs = [i.name for i in self.session.get_inputs()]

    def eval(self) -> "OnnxRunner":
        return self

    def __call__(self, **batch: torch.Tensor) -> np.ndarray:
        ids = batch["input_ids"]
        feed = {n: (batch[n] if n in batch else torch.zeros_like(ids)).to("cpu").numpy().astype(np.int64)
                for n in self.inputs}
        try:
            return self.session.run(["logits"], feed)[0]
        except Exception as exc:  # onnxruntime raises its own exception types when a kernel fails
            raise ExportError(f"ONNX Runtime cannot run the exported graph: {exc}") from exc
