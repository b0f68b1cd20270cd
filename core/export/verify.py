"""Verification of an export: outputs against the in-memory model, size on disk, latency against the original.

The outputs compared are the task head's (:mod:`core.models.heads`): ``logits``
of a sentence classifier, scorer or multi-label classifier, per-token
``logits`` of a token classifier and ``start_logits`` / ``end_logits`` of a
question-answering head, the per-token ones only at non-padding positions (the
batch's attention mask). Tolerances (validation batch):

- ``hf`` (safetensors, float or torch int8): the reload must reproduce the
  in-memory model to ``atol=1e-5, rtol=1e-4`` (same tensors, same kernels:
  "exact up to float summation order").
- ``onnx`` from a float model: ``atol=1e-4, rtol=1e-3`` (another runtime,
  other kernels and fusion).
- ``onnx-int8``, or ``onnx`` from a torch int8 model (whose activations are no
  longer quantized): the predictions must agree on at least 80 % of what the
  task predicts (:data:`AGREEMENT`: rows' classes, tokens' tags, answers' start
  and end positions, the order of pairs of scores, label decisions); the
  largest output difference is reported, not enforced.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from core.errors import ExportError
from core.models.heads import MULTI_LABEL, QUESTION_ANSWERING, REGRESSION, SEQUENCE, TOKEN, per_token

# per task: what "agreement" counts (the share of the second that the first holds for)
AGREEMENT = {
    SEQUENCE: ("predicted class agrees", "rows"),
    TOKEN: ("predicted tag agrees", "non-padding tokens"),
    QUESTION_ANSWERING: ("answer start and end positions agree", "rows' starts and ends"),
    REGRESSION: ("order of scores agrees", "pairs of rows"),
    MULTI_LABEL: ("label decisions (logit > 0) agree", "row-label pairs"),
}


@dataclass(frozen=True)
class Tolerance:
    name: str
    atol: float | None = None
    rtol: float | None = None
    min_agreement: float | None = None

    def describe(self, kind: str = SEQUENCE) -> str:
        if self.atol is not None:
            what = "start and end logits" if kind == QUESTION_ANSWERING else "logits"
            where = " at non-padding positions" if per_token(kind) else ""
            return f"{what}{where} within atol={self.atol:g}, rtol={self.rtol:g}"
        agree, unit = AGREEMENT[kind]
        return f"{agree} on >= {self.min_agreement:.0%} of {unit}"


def agreement_measure(kind: str) -> str:
    """What :attr:`ExportReport.argmax_agreement` is the share of, for a model of ``kind``."""
    agree, unit = AGREEMENT[kind]
    return f"{agree} (share of {unit})"


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
    argmax_agreement: float  # the share of predictions that agree, as the task counts them (agreement_measure)
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
    speedup_low: float | None = None  # 95 % CI of the median per-round ratio (its level from the rounds in timing)
    speedup_high: float | None = None
    speed_note: str | None = None
    latency_batch: str = ""
    protocol: str = ""  # how latency was measured (core.metrics.protocol.Protocol.describe)
    timing: dict[str, Any] | None = None  # the raw rounds and the protocol, re-derivable
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    task: str = SEQUENCE  # the head's task kind (core.models.heads)
    outputs: list[str] = field(default_factory=lambda: ["logits"])  # the outputs compared
    agreement_measure: str = agreement_measure(SEQUENCE)
    # the task's headline figure (core.tasks.figures: accuracy, entity_f1, answer_f1, pearson, micro_f1) on the
    # run's validation examples, for the export, the model it was written from and the original; None unmeasured
    headline: str | None = None
    headline_export: float | None = None
    headline_model: float | None = None
    headline_original: float | None = None
    headline_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline_text(self) -> str | None:
        """``"entity F1 on 24 validation examples: export 81.0 %, model 81.0 %, original 83.0 %"``; None when the
        figure was not measured (no validation data)."""
        from core.metrics.figures import format_figure, label

        if self.headline is None or self.headline_export is None:
            return None
        parts = [f"{who} {format_figure(self.headline, value)}" for who, value in
                 (("export", self.headline_export), ("model", self.headline_model),
                  ("original", self.headline_original)) if value is not None]
        name = label(self.headline)
        return (f"{name[0].lower() + name[1:]} on {self.headline_examples} validation examples: "
                + ", ".join(parts))

    def speed_text(self) -> str | None:
        """``"2.10x faster (1.90–2.30)"``, marked unreliable when the interval is wide, or the note that says
        why no speedup is claimed; None when the original was not timed."""
        from core.metrics.figures import describe

        if self.speedup is None and not self.speed_note:
            return None
        return describe({"speedup": self.speedup, "speedup_low": self.speedup_low,
                         "speedup_high": self.speedup_high, "speed_note": self.speed_note}, "speedup")


def headline_of(predict_model: Any, names: tuple[str, ...], task: Any, settings: Any, limit: int,
                batch_size: int = 32) -> tuple[float, int]:
    """(the task's headline figure, examples read) of a torch model or an exported graph on the validation split of
    ``task`` (a prepared :class:`~core.data.task.TaskData`; ``settings`` its recipe's data reference)."""
    from core.engine.task_metrics import evaluate_predictor
    from core.tasks.figures import HEADLINE

    measured = evaluate_predictor(lambda batch: outputs_of(predict_model, batch, names), task, "validation",
                                  batch_size, settings, limit=limit)
    return float(measured.figures.get(HEADLINE[task.kind], float("nan"))), measured.evaluated


def outputs_of(model: Any, batch: dict[str, torch.Tensor], names: tuple[str, ...] = ("logits",)) -> dict[str, np.ndarray]:
    """The outputs ``names`` as float64 numpy from a torch model or an :class:`OnnxRunner` (by name)."""
    with torch.no_grad():
        out = model(**batch)
    if isinstance(out, np.ndarray):  # a one-output graph
        out = {names[0]: out} if len(names) == 1 else {}
    result = {}
    for name in names:
        value = out.get(name) if isinstance(out, Mapping) else getattr(out, name, None)
        if value is None:
            raise ExportError(f"the exported model gives no {name!r} output")
        if isinstance(value, torch.Tensor):
            value = value.detach().to("cpu").double().numpy()
        result[name] = np.asarray(value, dtype=np.float64)
    return result


def logits_of(model: Any, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """Logits as float64 numpy from a torch model or an :class:`OnnxRunner`."""
    return outputs_of(model, batch)["logits"]


def _as_outputs(value: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return value if isinstance(value, Mapping) else {"logits": value}


def _positions(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The non-padding positions of per-token outputs of ``shape`` as a [batch, sequence] boolean array."""
    if mask is None:
        return np.ones(shape[:2], dtype=bool)
    mask = (mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)).astype(bool)
    if mask.shape != tuple(shape[:2]):
        raise ExportError(f"the attention mask has shape {mask.shape}, the outputs {shape}")
    return mask


def _concordance(expected: np.ndarray, actual: np.ndarray) -> float:
    """The share of pairs of rows (per output column) that the two scorings put in the same order."""
    e, a = expected.reshape(len(expected), -1), actual.reshape(len(actual), -1)
    rows, cols = np.triu_indices(len(e), k=1)
    if not len(rows):
        return 1.0
    same = np.sign(e[rows] - e[cols]) == np.sign(a[rows] - a[cols])
    return float(np.mean(same))


def _agreement(kind: str, expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], mask: Any) -> float:
    """The share of the task's predictions (:data:`AGREEMENT`) that ``actual`` makes as ``expected`` does."""
    first = next(iter(expected.values()))
    if not first.size:
        return 1.0
    if kind == QUESTION_ANSWERING:  # the answer's start and end: argmax over the non-padding positions
        keep = _positions(mask, first.shape)
        same = [np.where(keep, expected[n], -np.inf).argmax(-1) == np.where(keep, actual[n], -np.inf).argmax(-1)
                for n in expected]
        return float(np.mean(same))
    e, a = expected["logits"], actual["logits"]
    if kind == TOKEN:
        keep = _positions(mask, e.shape)
        return float(np.mean(e[keep].argmax(-1) == a[keep].argmax(-1))) if keep.any() else 1.0
    if kind == REGRESSION:
        return _concordance(e, a)
    if kind == MULTI_LABEL:
        return float(np.mean((e > 0) == (a > 0)))
    return float(np.mean(e.argmax(-1) == a.argmax(-1)))


def compare(expected: np.ndarray | dict[str, np.ndarray], actual: np.ndarray | dict[str, np.ndarray],
            tol: Tolerance, what: str, kind: str = SEQUENCE, mask: Any = None) -> tuple[float, float]:
    """(max |diff|, agreement); raises ExportError with the figures when ``tol`` is not met.

    ``expected`` and ``actual`` are the outputs by name (an array alone: ``logits``); ``kind`` is the head's
    task (what agreement counts) and ``mask`` the batch's attention mask: per-token outputs are compared at its
    non-padding positions only.
    """
    expected, actual = _as_outputs(expected), _as_outputs(actual)
    if set(expected) != set(actual):
        raise ExportError(f"{what}: the reloaded export gives the outputs {', '.join(actual)}, the model "
                          f"{', '.join(expected)}")
    diffs, close = [0.0], True
    for name, exp in expected.items():
        act = actual[name]
        if exp.shape != act.shape:
            raise ExportError(f"{what}: the reloaded export gives {name} of shape {act.shape}, the model {exp.shape}")
        if per_token(kind):
            keep = _positions(mask, exp.shape)
            exp, act = exp[keep], act[keep]
        if not np.all(np.isfinite(act)):
            raise ExportError(f"{what}: the reloaded export produces NaN or infinite {name}")
        if exp.size:
            diffs.append(float(np.max(np.abs(exp - act))))
        if tol.atol is not None:
            close = close and bool(np.allclose(act, exp, atol=tol.atol, rtol=tol.rtol))
    diff = max(diffs)
    agreement = _agreement(kind, expected, actual, mask)
    if not close:
        raise ExportError(
            f"{what}: the reloaded export does not reproduce the model (largest output difference {diff:.3g}, "
            f"allowed {tol.describe(kind)}); the export was not kept"
        )
    if tol.min_agreement is not None and agreement < tol.min_agreement:
        agree, unit = AGREEMENT[kind]
        raise ExportError(
            f"{what}: the reloaded export's {agree} on only {agreement:.0%} of {unit} (needed "
            f"{tol.min_agreement:.0%}; largest output difference {diff:.3g}); the export was not kept"
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
