"""Verification of an export: outputs against the in-memory model, size on disk, latency against the original.

Tolerances (on classification logits, validation batch):

- ``hf`` (safetensors, float or torch int8): the reload must reproduce the
  in-memory model to ``atol=1e-5, rtol=1e-4`` (same tensors, same kernels:
  "exact up to float summation order").
- ``onnx`` from a float model: ``atol=1e-4, rtol=1e-3`` (another runtime,
  other kernels and fusion).
- ``onnx-int8``, or ``onnx`` from a torch int8 model (whose activations are no
  longer quantized): the predicted class must agree on at least 80 % of rows;
  the largest logit difference is reported, not enforced.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from core.errors import ExportError


@dataclass(frozen=True)
class Tolerance:
    name: str
    atol: float | None = None
    rtol: float | None = None
    min_agreement: float | None = None

    def describe(self) -> str:
        if self.atol is not None:
            return f"logits within atol={self.atol:g}, rtol={self.rtol:g}"
        return f"predicted class agrees on >= {self.min_agreement:.0%} of rows"


EXACT = Tolerance("exact", atol=1e-5, rtol=1e-4)
ONNX_FLOAT = Tolerance("onnx-float", atol=1e-4, rtol=1e-3)
QUANTIZED = Tolerance("quantized", min_agreement=0.8)


@dataclass
class ExportReport:
    """What an export wrote and what verifying it measured (``to_dict`` is JSON-ready)."""

    format: str
    path: str
    verified: bool
    tolerance: str
    max_abs_diff: float
    argmax_agreement: float
    rows: int
    size_bytes: int  # the whole folder
    weights_bytes: int  # model.safetensors / model.onnx
    standard: bool | None = None  # hf only: plain transformers from_pretrained rebuilds it
    parameters: int | None = None
    original_size_bytes: int | None = None
    size_ratio: float | None = None  # original / export weights
    latency_ms: float | None = None
    original_latency_ms: float | None = None
    speedup: float | None = None  # None when not measured, or the original is too small to time (speed_note)
    speedup_low: float | None = None  # interquartile range of the per-round ratios
    speedup_high: float | None = None
    speed_note: str | None = None
    latency_batch: str = ""
    protocol: str = ""  # how latency was measured (core.metrics.protocol.Protocol.describe)
    timing: dict[str, Any] | None = None  # the raw rounds and the protocol, re-derivable
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def speed_text(self) -> str | None:
        """``"2.10x faster (1.90–2.30)"``, marked unreliable when the interval is wide, or the note that says
        why no speedup is claimed; None when the original was not timed."""
        from core.metrics.figures import describe

        if self.speedup is None and not self.speed_note:
            return None
        return describe({"speedup": self.speedup, "speedup_low": self.speedup_low,
                         "speedup_high": self.speedup_high, "speed_note": self.speed_note}, "speedup")


def logits_of(model: Any, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """Logits as float64 numpy from a torch model or an :class:`OnnxRunner`."""
    with torch.no_grad():
        out = model(**batch)
    if isinstance(out, np.ndarray):
        return out.astype(np.float64)
    out = getattr(out, "logits", out)
    return out.detach().to("cpu").double().numpy()


def compare(expected: np.ndarray, actual: np.ndarray, tol: Tolerance, what: str) -> tuple[float, float]:
    """(max |diff|, argmax agreement); raises ExportError with the figures when ``tol`` is not met."""
    if expected.shape != actual.shape:
        raise ExportError(f"{what}: the reloaded export gives logits of shape {actual.shape}, the model {expected.shape}")
    if not np.all(np.isfinite(actual)):
        raise ExportError(f"{what}: the reloaded export produces NaN or infinite logits")
    diff = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    agreement = float(np.mean(expected.argmax(-1) == actual.argmax(-1))) if expected.size else 1.0
    if tol.atol is not None and not np.allclose(actual, expected, atol=tol.atol, rtol=tol.rtol):
        raise ExportError(
            f"{what}: the reloaded export does not reproduce the model (largest logit difference {diff:.3g}, "
            f"allowed {tol.describe()}); the export was not kept"
        )
    if tol.min_agreement is not None and agreement < tol.min_agreement:
        raise ExportError(
            f"{what}: the reloaded export predicts the same class on only {agreement:.0%} of rows (needed "
            f"{tol.min_agreement:.0%}; largest logit difference {diff:.3g}); the export was not kept"
        )
    return diff, agreement


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of a model's tensors stored once each: what its safetensors payload weighs."""
    seen: set[int] = set()
    total = 0
    for value in model.state_dict().values():
        if not isinstance(value, torch.Tensor) or value.is_quantized:
            continue
        key = value.untyped_storage().data_ptr()  # tied parameters share storage
        if key not in seen:
            seen.add(key)
            total += value.numel() * value.element_size()
    return total


def software_versions() -> dict[str, str]:
    import importlib.metadata as md

    from core import __version__

    out = {"python": platform.python_version(), "bert-studio": __version__}
    for dist in ("torch", "transformers", "safetensors", "tokenizers", "onnx", "onnxruntime"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def measure_latency(exported: Any, original: nn.Module | None, batch: dict[str, torch.Tensor],
                    repeats: int, timer=None) -> dict[str, Any]:
    """The export and the original timed in alternation under the measurement protocol (core.metrics.latency).

    An ONNX Runtime session is a callable like a torch model, so both go through the same rounds. Returns the
    :class:`ExportReport` fields: latencies, the speedup with its interval (or a note when the original is too
    small to time), the protocol line and the raw timing.
    """
    from core.metrics.latency import batch_protocol, measure_batches, speed_figures

    models = {"export": exported}
    was_training = original.training if original is not None else False
    if original is not None:
        models["original"] = original
    protocol = batch_protocol(batch, repeats)
    try:
        timing = measure_batches(models, [batch], protocol, timer=timer)
    finally:
        if original is not None:
            original.train(was_training)
    figures = speed_figures(timing, candidate="export", baseline="original")
    return {"latency_ms": figures["latency_ms"], "original_latency_ms": figures.get("baseline_latency_ms"),
            "speedup": figures.get("speedup"), "speedup_low": figures.get("speedup_low"),
            "speedup_high": figures.get("speedup_high"), "speed_note": figures.get("speed_note"),
            "protocol": protocol.describe(), "timing": timing.to_dict()}
