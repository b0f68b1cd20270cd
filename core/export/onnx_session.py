"""Running an exported graph in ONNX Runtime, and keeping the exporters' advice out of the user's console.

The bottom of the ONNX modules: :mod:`core.export.onnx_graph`,
:mod:`core.export.onnx_fusion`, the quantizers and :mod:`core.export.api` use
:func:`quiet_exporters` or run graphs through :class:`OnnxRunner`; nothing here
imports them.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from core.errors import ExportError


@contextmanager
def quiet_exporters():
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


class OnnxRunner:
    """An ONNX Runtime session that takes the same keyword batch as the torch model (for timing and checks).

    Called, it returns the graph's one output (``logits``) as an array, or a dict of arrays by output name for a
    graph with several (``start_logits``, ``end_logits``); :meth:`run` always returns the dict.
    """

    def __init__(self, file: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Pinned, and to torch's count by default: a session left to choose takes every core, and a comparison
        # with the torch model would then compare thread counts too. Recorded with each timing (Protocol).
        self.threads = int(threads or torch.get_num_threads())
        options.intra_op_num_threads = self.threads
        # idle worker threads otherwise spin after each run and slow down the torch
        # model timed right after it (latency is measured in alternation)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
            raise ExportError(f"ONNX Runtime cannot open the exported graph: {exc}") from exc
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def eval(self) -> "OnnxRunner":
        return self

    def run(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Every output of the graph, by name."""
        ids = batch["input_ids"]
        feed = {n: (batch[n] if n in batch else torch.zeros_like(ids)).to("cpu").numpy().astype(np.int64)
                for n in self.inputs}
        try:
            return dict(zip(self.outputs, self.session.run(self.outputs, feed)))
        except Exception as exc:  # onnxruntime raises its own exception types when a kernel fails
            raise ExportError(f"ONNX Runtime cannot run the exported graph: {exc}") from exc

    def __call__(self, **batch: torch.Tensor) -> np.ndarray | dict[str, np.ndarray]:
        out = self.run(batch)
        return next(iter(out.values())) if len(out) == 1 else out
