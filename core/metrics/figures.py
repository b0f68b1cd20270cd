"""The one list of final figures: key, label, unit, group, help text and how each reads.

The CLI (``core.cli.format``), the studio (run details, comparison, the end-of-run
summary) and the model card show figures through this module, so a key means one
thing everywhere and a new figure is added in one place. Results written by
``core.engine.evaluation.final_results`` carry spreads beside some figures
(``KEY_low`` / ``KEY_high``), a ``speed_note`` instead of a speedup for models
too small to time, and the raw timings with their protocol under ``timing``;
runs recorded before those existed lack them and still read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from core.metrics.intervals import UNRELIABLE_WIDTH, Spread
from core.metrics.protocol import Protocol
from core.metrics.timing import speed_figures

GROUPS = ("accuracy", "size", "speed")
UNRELIABLE = "unreliable: busy machine?"
NO_PROTOCOL = "protocol not recorded (a run from an older studio)"


@dataclass(frozen=True)
class Figure:
    """How one final figure is named, grouped, explained and formatted."""

    key: str
    label: str
    group: str  # one of GROUPS
    kind: str  # fraction | count | bytes | ratio | ms | number
    help: str
    unit: str = ""
    words: tuple[str, str, str] | None = None  # ratios: (above 1, about 1, below 1), e.g. faster / same speed / slower


_ACC_HOW = "on the recipe's evaluation split; in brackets the 95 % Wilson interval over the examples evaluated"
_SPEED_HOW = ("timed in alternation with the baseline in the same process, under the protocol stated with it "
              "(batch, lengths, threads, CPU); in brackets the interquartile range over the rounds")

FIGURES: tuple[Figure, ...] = (
    Figure("accuracy", "Accuracy", "accuracy", "fraction", f"Share of examples the final model classifies right, {_ACC_HOW}.", "%"),
    Figure("baseline_accuracy", "Baseline accuracy", "accuracy", "fraction",
           f"The same for the baseline (the fine-tuned model before compression, or the original), {_ACC_HOW}.", "%"),
    Figure("accuracy_retained", "Accuracy retained", "accuracy", "fraction",
           "Final accuracy / baseline accuracy on the same examples; in brackets a 95 % paired bootstrap interval "
           "(examples resampled together for both models).", "%"),
    Figure("evaluated", "Examples evaluated", "accuracy", "count", "How many examples the accuracies are measured on."),
    Figure("loss", "Loss", "accuracy", "number", "Mean cross-entropy of the final model on the evaluation split."),
    Figure("parameters", "Parameters", "size", "count",
           "Every parameter of the final model, zeros included (packed and quantized weights counted by what they hold)."),
    Figure("nonzero_parameters", "Non-zero parameters", "size", "count",
           "Parameters of the final model that are not zero (what unstructured pruning removes)."),
    Figure("baseline_parameters", "Baseline parameters", "size", "count", "Every parameter of the baseline."),
    Figure("parameter_ratio", "Parameters vs baseline", "size", "ratio",
           "Baseline parameters / final parameters (zeros included).", "x", ("fewer parameters", "same parameters", "more parameters")),
    Figure("size_bytes", "Size", "size", "bytes", "The final model's weights serialized as a state dict, in MB (10^6 bytes).", "MB"),
    Figure("baseline_size_bytes", "Baseline size", "size", "bytes", "The baseline's weights serialized the same way.", "MB"),
    Figure("size_ratio", "Size vs baseline", "size", "ratio", "Baseline size / final size, both serialized the same way.",
           "x", ("smaller", "same size", "larger")),
    Figure("latency_ms", "Latency", "speed", "ms", f"Milliseconds per batch of the final model, {_SPEED_HOW}.", "ms"),
    Figure("baseline_latency_ms", "Baseline latency", "speed", "ms", f"Milliseconds per batch of the baseline, {_SPEED_HOW}.", "ms"),
    Figure("speedup", "Speedup", "speed", "ratio",
           "Baseline latency / final latency: the median of per-round ratios, each round timing both models back to "
           f"back; in brackets the interquartile range of those ratios. Marked unreliable when that range is wider "
           f"than {UNRELIABLE_WIDTH:.0%} of the median.", "x", ("faster", "same speed", "slower")),
)
_BY_KEY = {f.key: f for f in FIGURES}
ORDER = tuple(f.key for f in FIGURES)
# Keys kept with the results that are not figures of their own: spreads, notes, raw timings.
COMPANIONS = ("_low", "_high")
NOT_FIGURES = frozenset({"timing", "speed_note", "data_changes"})


def spec(key: str) -> Figure | None:
    return _BY_KEY.get(key)


def label(key: str) -> str:
    f = spec(key)
    return f.label if f else key


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _kind(key: str) -> str:
    f = spec(key)
    if f:
        return f.kind
    # keys from elsewhere (an export's figures, older runs) read by their suffix
    if "accuracy" in key or key.endswith("retained") or key == "sparsity":
        return "fraction"
    if key.endswith("size_bytes"):
        return "bytes"
    if key.endswith("ratio") or key == "speedup":
        return "ratio"
    if key.endswith("_ms"):
        return "ms"
    if key.endswith("parameters"):
        return "count"
    return "number"


def _bare(kind: str, v: float) -> str:
    """The number alone, no unit (interval bounds)."""
    return {"fraction": f"{100 * v:.2f}", "bytes": f"{v / 1e6:.2f}", "ratio": f"{v:.2f}", "ms": f"{v:.1f}",
            "count": f"{int(v):,}"}.get(kind, f"{v:.4g}")


def format_figure(key: str, value: Any) -> str:
    """Accuracies in %, sizes in MB, ratios as 1.23x, latencies in ms, parameters with separators."""
    if value is None:
        return "-"
    v = _number(value)
    if v is None:
        return str(value)
    if math.isnan(v):
        return "n/a"
    kind = _kind(key)
    unit = {"fraction": " %", "bytes": " MB", "ratio": "x", "ms": " ms"}.get(kind, "")
    return _bare(kind, v) + unit


def interval(results: Mapping[str, Any], key: str) -> Spread | None:
    """``key`` with its stored interval, or None when the run has no interval for it."""
    v, lo, hi = (_number(results.get(k)) for k in (key, f"{key}_low", f"{key}_high"))
    if v is None or lo is None or hi is None or any(math.isnan(x) for x in (v, lo, hi)):
        return None
    return Spread(v, lo, hi)


def unreliable(results: Mapping[str, Any], key: str = "speedup") -> bool:
    """A timed ratio whose interval is wider than :data:`UNRELIABLE_WIDTH` of its value."""
    s = interval(results, key)
    return s is not None and _kind(key) == "ratio" and not s.reliable


def with_interval(key: str, value: Any, low: Any = None, high: Any = None) -> str:
    """``"83.45 % (80.12–86.30)"``, ``"5.10x (4.80–5.30)"``; the value alone without bounds."""
    text = format_figure(key, value)
    lo, hi = _number(low), _number(high)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi) or _number(value) is None:
        return text
    kind = _kind(key)
    return f"{text} ({_bare(kind, lo)}\u2013{_bare(kind, hi)})"


def describe(results: Mapping[str, Any], key: str) -> str:
    """A figure as shown to a person: its value, its interval, and a mark when it cannot be trusted.

    A speedup the run declined to claim (a model too small to time) reads as the note that says why.
    """
    if key == "speedup" and _number(results.get("speedup")) is None and results.get("speed_note"):
        return str(results["speed_note"])
    text = with_interval(key, results.get(key), results.get(f"{key}_low"), results.get(f"{key}_high"))
    f = spec(key)
    if f is not None and f.words is not None:  # "1.00x" -> "same parameters", "5.10x (4.80-5.30)" -> "5.10x faster (...)"
        text = phrase(key, results.get(key)) + text[len(format_figure(key, results.get(key))):]
    if unreliable(results, key):
        text += f" {UNRELIABLE}"
    return text


def phrase(key: str, value: Any) -> str:
    """A ratio in words: ``"3.20x fewer parameters"``, ``"same parameters"`` (within half a percent), ``"1.25x slower"``."""
    f, v = spec(key), _number(value)
    if f is None or f.words is None or v is None or math.isnan(v) or v <= 0:
        return format_figure(key, value)
    above, same, below = f.words
    if abs(v - 1) < 0.005:
        return same
    return f"{v:.2f}x {above}" if v > 1 else f"{1 / v:.2f}x {below}"


@dataclass(frozen=True)
class FigureRow:
    key: str
    group: str
    label: str
    text: str
    help: str


def is_companion(key: str) -> bool:
    """Keys stored beside the figures (intervals, notes, raw timings) rather than figures of their own."""
    return key in NOT_FIGURES or any(key.endswith(s) and key[: -len(s)] in _BY_KEY for s in COMPANIONS)


def rows(results: Mapping[str, Any]) -> list[FigureRow]:
    """The figures of ``results`` in display order (grouped accuracy, size, speed; then unknown keys by name)."""
    out = []
    for f in FIGURES:
        if f.key in results or (f.key == "speedup" and results.get("speed_note")):
            out.append(FigureRow(f.key, f.group, f.label, describe(results, f.key), f.help))
    for key in sorted(k for k in results if k not in _BY_KEY and not is_companion(k)):
        out.append(FigureRow(key, "other", key, format_figure(key, results[key]), ""))
    return out


def protocols(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(profile, how it was measured)`` for each latency profile the run timed, headline first."""
    timing = results.get("timing")
    if not isinstance(timing, Mapping) or not timing:
        return []
    return [(name, Protocol.from_dict(entry.get("protocol") or {}).describe()) for name, entry in timing.items()
            if isinstance(entry, Mapping)]


def profile_figures(results: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """``(profile, speed figures re-derived from its raw rounds, protocol line)`` for each profile timed."""
    timing = results.get("timing")
    if not isinstance(timing, Mapping):
        return []
    return [(name, speed_figures(entry), Protocol.from_dict(entry.get("protocol") or {}).describe())
            for name, entry in timing.items() if isinstance(entry, Mapping)]


def summary(results: Mapping[str, Any]) -> str:
    """One line for the end of a run: accuracy, speed and parameters with their spreads."""
    parts = [f"accuracy {describe(results, 'accuracy')}"] if "accuracy" in results else []
    speed = _number(results.get("speedup"))
    if speed is not None and not math.isnan(speed):
        parts.append(describe(results, "speedup"))
    elif results.get("speed_note"):
        parts.append("speedup not claimed (model too small to time)")
    if "parameter_ratio" in results:
        parts.append(phrase("parameter_ratio", results["parameter_ratio"]))
    return ", ".join(parts)
