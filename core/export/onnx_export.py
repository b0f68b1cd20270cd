"""An ONNX export folder: the float graph, optionally fused, with float, int8 or 4-bit weights.

A format is a choice of weights and a choice of fusion (:class:`OnnxOptions`;
each format's default in :data:`FORMATS`, and ``export_model(..., fusion=)``
overrides it):

- ``none``: the graph as the exporter wrote it;
- ``fused``: ONNX Runtime's BERT fusion first, where the shapes allow it and the
  fused graph reproduces the unfused one (:mod:`core.export.onnx_fusion`);
  otherwise the unfused graph, and the notes say why;
- ``fastest``: both written, timed in alternation on the verification batch,
  the unfused one kept only where it is measurably faster. ONNX Runtime runs an
  unfused int8 graph with its own int8 matrix kernels and a fused one through
  QAttention, which can be the slower of the two (0.86x on an AVX512 CPU:
  bench/export_fusion.py), hence ``onnx-int8``'s default.

The ONNX modules depend one way: ``onnx_session`` (running a graph) under
``onnx_graph`` (the float graph) and ``onnx_fusion`` (the checked fusion);
the fusion under the quantizers ``onnx_int8`` and ``onnx_int4``; all of them
under this module, and this module under :mod:`core.export.api`.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import ExportError
from core.export.onnx_fusion import FUSED_OPS, fuse_where_possible, op_counts
from core.export.onnx_graph import ONNX_FILE, export_graph
from core.export.onnx_int4 import quantize_int4
from core.export.onnx_int8 import quantize_graph
from core.export.onnx_session import OnnxRunner
from core.metrics.latency import as_callable, batch_protocol, time_rounds
from core.models.checkpoint import write_tokenizer
from core.models.state import ModelState

WEIGHTS = ("float", "int8", "int4")
FUSIONS = ("none", "fused", "fastest")


@dataclass(frozen=True)
class OnnxOptions:
    """What an ONNX export writes: the weights' type and whether ONNX Runtime's BERT fusion runs first."""

    weights: str = "float"
    fusion: str = "none"

    def __post_init__(self):
        if self.weights not in WEIGHTS:
            raise ExportError(f"unknown ONNX weights {self.weights!r}; choose one of {', '.join(WEIGHTS)}")
        if self.fusion not in FUSIONS:
            raise ExportError(f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}")


FORMATS = {"onnx": OnnxOptions("float", "none"), "onnx-int8": OnnxOptions("int8", "fastest"),
           "onnx-int4": OnnxOptions("int4", "fused")}
FUSION_MIN_GAIN = 0.05  # the unfused graph must be this much faster to replace the fused one
FUSION_MIN_MS = 5.0  # below this per batch (a tiny model), timing noise decides: the fused graph stays
_FUSED_MARKS = (*FUSED_OPS, "QAttention")  # operators that show a fusion took (QAttention: fused, then int8)


def options_for(format: str, fusion: str | None = None) -> OnnxOptions:
    """The options of the ONNX ``format``, with ``fusion`` in place of its default when given."""
    if format not in FORMATS:
        raise ExportError(f"{format!r} is not an ONNX format; choose one of {', '.join(FORMATS)}")
    default = FORMATS[format]
    return default if fusion is None else OnnxOptions(default.weights, fusion)


def _write_graph(state: ModelState, src: Path, dst: Path, sample: dict[str, torch.Tensor], weights: str,
                 fused: bool, notes: list[str]) -> None:
    """``dst``: the float graph ``src`` (fused first when ``fused``) with ``weights``; ``src`` stays."""
    if weights == "int8":
        quantize_graph(state, src, dst, notes, sample, fusion=fused)
    elif weights == "int4":
        quantize_int4(state, src, dst, notes, sample, fusion=fused)
    else:
        graph = fuse_where_possible(state.model, src, sample, notes, "to the float graph") if fused else src
        if graph == src:
            shutil.copyfile(src, dst)
        else:
            graph.replace(dst)
    if not fused:
        notes.append("fusion not requested: quantized as exported" if weights != "float" else
                     "fusion not requested: the graph as exported")


def _ms_per_batch(files: dict[str, Path], sample: dict[str, torch.Tensor], rounds: int = 5) -> dict[str, float]:
    """Median milliseconds per batch of each ONNX graph on ``sample``, timed in alternation (the latency protocol)."""
    runners = {name: OnnxRunner(file) for name, file in files.items()}
    timing = time_rounds({name: as_callable(r, [sample]) for name, r in runners.items()}, batch_protocol(sample, rounds))
    return {name: timing.latency(name).value for name in files}


def _write_fastest(state: ModelState, src: Path, dst: Path, sample: dict[str, torch.Tensor], weights: str,
                   notes: list[str]) -> None:
    """The fused graph, or the unfused one where that is measurably faster on this machine (both times noted)."""
    import onnx

    fused_notes: list[str] = []
    _write_graph(state, src, dst, sample, weights, True, fused_notes)
    counts = op_counts(onnx.load(str(dst)))
    if not any(counts[op] for op in _FUSED_MARKS):  # nothing fused: nothing to choose between
        notes.extend(fused_notes)
        return
    plain, plain_notes = dst.with_name("unfused.onnx"), []
    _write_graph(state, src, plain, sample, weights, False, plain_notes)
    try:
        times = _ms_per_batch({"fused": dst, "unfused": plain}, sample)
        fused_ms, plain_ms = times["fused"], times["unfused"]
        timed = f"{plain_ms:.1f} ms per batch unfused against {fused_ms:.1f} ms fused, timed in alternation " \
                f"on the {tuple(sample['input_ids'].shape)} verification batch"
        if fused_ms >= FUSION_MIN_MS and plain_ms < fused_ms * (1 - FUSION_MIN_GAIN):
            plain.replace(dst)
            notes.extend(n for n in plain_notes if not n.startswith("fusion not requested"))
            notes.append(f"{weights} graph kept unfused, ONNX Runtime's fusion being slower here: {timed}")
            return
        notes.extend(fused_notes)
        notes.append(f"fused {weights} graph kept: {timed}")
    finally:
        plain.unlink(missing_ok=True)


def write_onnx_folder(state: ModelState, folder: Path, sample: dict[str, torch.Tensor],
                      options: OnnxOptions) -> dict[str, Any]:
    """``model.onnx`` (as ``options`` say), ``config.json`` and the tokenizer files in ``folder``."""
    notes: list[str] = []
    target = folder / ONNX_FILE
    if options == OnnxOptions("float", "none"):
        export_graph(state, target, sample)
    else:
        float_file = folder / "float.onnx"
        export_graph(state, float_file, sample)
        if options.fusion == "fastest":
            _write_fastest(state, float_file, target, sample, options.weights, notes)
        else:
            _write_graph(state, float_file, target, sample, options.weights, options.fusion == "fused", notes)
        float_file.unlink(missing_ok=True)
    if state.quantized:
        notes.append("the torch int8 weights were dequantized for ONNX (activations are no longer quantized)")
    config = copy.deepcopy(state.model.config)
    config.architectures = [type(state.model).__name__]  # the head, for Optimum's ORTModelFor... classes
    config.save_pretrained(folder)  # label names and shapes for whoever serves the graph
    if state.tokenizer is not None:
        write_tokenizer(state.tokenizer, folder, state.source)
    return {"notes": notes, "file": ONNX_FILE}
