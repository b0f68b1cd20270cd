"""ONNX Runtime dynamic int8 weights (per channel, reduced range), after BERT fusion where it is asked for.

Quantizing a fused graph needs ``DefaultTensorType``; ``per_channel`` +
``reduce_range`` keep int8 accuracy on CPUs without VNNI (../shared/ENV.md).
Whether the graph is fused first is the caller's choice (``fusion``):
:mod:`core.export.onnx_export` makes it per format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.errors import ExportError
from core.export.onnx_fusion import fuse_where_possible
from core.export.onnx_session import quiet_exporters
from core.models.state import ModelState


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


def quantize_graph(state: ModelState, src: Path, dst: Path, notes: list[str],
                   sample: dict[str, torch.Tensor], fusion: bool = True) -> None:
    """ONNX Runtime dynamic int8 (per channel, reduced range), after BERT fusion when the shapes allow it.

    ``fusion=False`` quantizes the graph as exported (the benchmark's baseline).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options: dict[str, Any] = {}
    graph = fuse_where_possible(state.model, src, sample, notes, "before int8 quantization") if fusion else src
    if graph != src:
        options["DefaultTensorType"] = onnx.TensorProto.FLOAT
    with quiet_exporters():
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
