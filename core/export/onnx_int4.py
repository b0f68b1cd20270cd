"""ONNX Runtime 4-bit weights: ``MatMulNBits`` for the linear layers, ``GatherBlockQuantized`` for embedding rows.

Where the caller asks for fusion (``fusion=True``, what the ``onnx-int4`` format
does), the float graph first goes through ONNX Runtime's BERT fusion in the form that
leaves the weights where a weight quantizer sees them: attention fused to
``MultiHeadAttention`` (the Q/K/V projections stay separate MatMuls) and the
embeddings left as Gathers (``EmbedLayerNormalization`` would take the tables
in). Then every MatMul with a 2-D constant weight becomes ``MatMulNBits``
(blockwise asymmetric int4 along the input dimension, ``block_size`` rows per
scale) and, where the installed ONNX Runtime has the kernel, every Gather on a
2-D float table (word, position and token-type embeddings) becomes
``GatherBlockQuantized``. The pooler and a sentence classifier are ``Gemm``
nodes, which MatMulNBits does not take; they stay in float (they are small).
A per-token head (token classification, question answering) is a MatMul on
the hidden states and gets 4-bit weights like the encoder's.

Verification (:data:`INT4`): 4-bit weights move logits further than int8, so
as with int8 only the predictions (as the task counts them,
:data:`core.export.verify.AGREEMENT`) are held to a floor; the largest output
difference is reported.

Measured (bench/export_fusion.py, head-pruned MiniLM-L6, 32 x 64 batch, 2 threads,
AVX512 CPU, ONNX Runtime 1.32): 5.97x smaller than the fp32 graph and 1.51x
smaller than int8, but no faster than fp32 (0.98x) and half int8's speed:
MatMulNBits pays for small row counts (token-by-token decoding), not for a
2,048-row batch. It is the format for size, not for speed.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch

from core.errors import ExportError
from core.export import verify
from core.export.onnx_fusion import fuse_where_possible
from core.export.onnx_session import quiet_exporters
from core.models.state import ModelState

BLOCK_SIZE = 32  # rows of a weight column sharing one scale and zero point (a power of two, >= 16)
ACCURACY_LEVEL = 4  # MatMulNBits computes with int8-quantized activations (0: dequantize to float first)
INT4 = verify.Tolerance("int4", min_agreement=0.8)


@lru_cache(maxsize=1)
def gather_block_quantized_available() -> bool:
    """Whether the installed ONNX Runtime runs ``GatherBlockQuantized`` (uint4 table) on the CPU."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    table = helper.make_tensor("table", TensorProto.UINT4, [2, 16], np.full(16, 0x11, np.uint8).tobytes(), raw=True)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [2, 1], [1.0, 2.0])
    zero = helper.make_tensor("zero", TensorProto.UINT4, [2, 1], np.array([0x88], np.uint8).tobytes(), raw=True)
    node = helper.make_node("GatherBlockQuantized", ["table", "ids", "scales", "zero"], ["rows"], domain="com.microsoft",
                            gather_axis=0, quantize_axis=1, block_size=16)
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("rows", TensorProto.FLOAT, [1, 16])],
                              initializer=[table, scales, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        rows = session.run(None, {"ids": np.array([1], np.int64)})[0]
    except Exception:  # no kernel (older ONNX Runtime) or no uint4 type: the embeddings stay in float
        return False
    return bool(np.allclose(rows, 2.0 * (1 - 8)))  # row 1: codes 1, zero point 8, scale 2 (as the quantizer writes)


@contextmanager
def _quiet_quantizer():
    """The quantizer logs a line per node, and that it raises the opset to 21 for the int4 types (which the
    verification then runs); the notes say what it did."""
    log = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _weight_nodes(model) -> tuple[list[str], list[str], list[str]]:
    """(MatMuls with a 2-D constant weight, Gathers on a 2-D float table, every other MatMul/Gather)."""
    from onnx import TensorProto

    inits = {init.name: init for init in model.graph.initializer}
    matmuls, gathers, others = [], [], []
    for node in model.graph.node:
        if node.op_type == "MatMul":
            weight = inits.get(node.input[1]) if len(node.input) > 1 else None
            (matmuls if weight is not None and len(weight.dims) == 2 else others).append(node.name)
        elif node.op_type == "Gather":
            table = inits.get(node.input[0])
            ok = table is not None and len(table.dims) == 2 and table.data_type == TensorProto.FLOAT
            (gathers if ok else others).append(node.name)
    return matmuls, gathers, others


def quantize_int4(state: ModelState, src: Path, dst: Path, notes: list[str], sample: dict[str, torch.Tensor],
                  block_size: int = BLOCK_SIZE, accuracy_level: int = ACCURACY_LEVEL, fusion: bool = True) -> None:
    """Write ``dst``: the graph ``src`` (with ``fusion``, fused where it checks out) with 4-bit linear weights and
    embedding rows."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    graph = src
    if fusion:
        graph = fuse_where_possible(state.model, src, sample, notes, "before int4 quantization", multi_head=True,
                                    embeddings=False)
    model = onnx.load(str(graph))
    matmuls, gathers, others = _weight_nodes(model)
    op_types = ["MatMul"]
    if gathers and gather_block_quantized_available():
        op_types.append("Gather")
        notes.append(f"{len(gathers)} embedding table(s) stored as 4-bit rows (GatherBlockQuantized, "
                     f"block {block_size})")
    elif gathers:
        notes.append("embeddings kept in float: this ONNX Runtime has no GatherBlockQuantized kernel")
        others += gathers
    try:
        with quiet_exporters(), _quiet_quantizer():
            quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=block_size, is_symmetric=False,
                                             accuracy_level=accuracy_level, nodes_to_exclude=others,
                                             op_types_to_quantize=tuple(op_types))
            quantizer.process()
            quantizer.model.save_model_to_file(str(dst), use_external_data_format=False)
    except OSError:
        raise
    except Exception as exc:
        raise ExportError(f"ONNX Runtime int4 quantization failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if graph != src:
            graph.unlink(missing_ok=True)
    ops = [node.op_type for node in onnx.load(str(dst), load_external_data=False).graph.node]
    # a head on the pooled vector is a Gemm; a per-token head (tagger, QA) works on 3-D input, so a MatMul
    gemms = ops.count("Gemm")
    kept = f"; {gemms} Gemm layer(s) (pooler, sentence classifier) stay in float" if gemms else ""
    notes.append(f"{ops.count('MatMulNBits')} of {len(matmuls)} linear-layer MatMuls carry 4-bit weights (MatMulNBits, "
                 f"block {block_size}, accuracy level {accuracy_level}){kept}")
