"""The one list of final figures: key, label, unit, group, help text and how each reads.

The CLI (``core.cli.format``), the studio (run details, comparison, the end-of-run
summary) and the model card show figures through this module, so a key means one
thing everywhere and a new figure is added in one place. Results written by
``core.engine.evaluation.final_results`` carry intervals beside some figures, a
``speed_note`` instead of a speedup for models too small to time, and the raw
timings with their protocol under ``timing``; runs recorded before those existed
lack them and still read.

One meaning for an interval: ``KEY_low`` / ``KEY_high`` is always a 95 %
confidence interval (Wilson for an accuracy, a paired bootstrap for a retained
figure, a bootstrap over examples for a task's figures, order statistics of the
rounds for a timed figure, whose ``KEY_level`` states a lower level under six
rounds). A timed figure also keeps the interquartile range of its rounds
(``KEY_q1`` / ``KEY_q3``): how much the rounds differ, shown beside the
confidence interval and never used for a verdict. Runs recorded before this
stored the interquartile range as a timed figure's ``KEY_low`` / ``KEY_high``
(they have no ``KEY_q1``); :func:`interval_label` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from core.metrics.figure_base import FIGURES, Figure
from core.metrics.intervals import CONFIDENCE, MIN_LEVEL, UNRELIABLE_WIDTH, Spread
from core.metrics.protocol import Protocol
from core.metrics.timing import speed_figures

GROUPS = ("accuracy", "size", "speed")
UNRELIABLE = "unreliable: busy machine?"
NO_PROTOCOL = "protocol not recorded (a run from an older studio)"


def _task_figures() -> tuple[Figure, ...]:
    """Every other task kind's figures (:mod:`core.metrics.task_figures`), each with its baseline's and, for the
    headline, its "retained"; they come after accuracy's rows, before the size figures."""
    from core.metrics.task_figures import BY_TASK, HEADLINES

    out: list[Figure] = []
    for task, figures in BY_TASK.items():
        if task == "sequence-classification":
            continue
        for f in figures:
            out.append(f)
            if f.key == HEADLINES[task]:
                out.append(Figure(f"baseline_{f.key}", f"Baseline {f.label}", f.group, f.kind,
                                  f"The same for the baseline (the fine-tuned model before compression, or the "
                                  f"original). {f.help}", f.unit))
                out.append(Figure(f"{f.key}_retained", f"{f.label} retained", f.group, "fraction",
                                  f"Final {f.label} / baseline {f.label} on the same examples; in brackets a 95 % "
                                  "paired bootstrap interval (examples resampled together for both models).", "%"))
        out += [Figure(f"baseline_{f.key}", f"Baseline {f.label}", f.group, f.kind, f"The baseline's. {f.help}",
                       f.unit) for f in figures if f.key != HEADLINES[task]]
    out += [Figure("entities", "Entities", "accuracy", "count", "Gold entities in the sentences evaluated."),
            Figure("unanswerable", "Unanswerable questions", "accuracy", "count",
                   "Questions evaluated that have no answer in their context (SQuAD v2)."),
            Figure("null_threshold", "No-answer threshold", "accuracy", "number",
                   "SQuAD v2: a question is answered when its best span beats no-answer by more than this (in "
                   "logits); chosen on the validation split to maximise F1, or the recipe's when that split has no "
                   "unanswerable question."),
            Figure("threshold", "Label threshold", "accuracy", "number",
                   "Multi-label: the probability at which a label is predicted.")]
    return tuple(out)


_after = [f.key for f in FIGURES].index("accuracy_retained") + 1
FIGURES = FIGURES[:_after] + _task_figures() + FIGURES[_after:]
_BY_KEY = {f.key: f for f in FIGURES}
ORDER = tuple(f.key for f in FIGURES)
# Figures where a smaller value is better (the score and constraints invert them).
LOWER_IS_BETTER = frozenset({"mse", "baseline_mse", "loss"})
# Keys kept with the results that are not figures of their own: intervals, notes, raw timings.
COMPANIONS = ("_low", "_high", "_q1", "_q3", "_level")
TIMED = ("latency_ms", "baseline_latency_ms", "speedup")  # figures measured over timed rounds
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
    """A timed ratio whose confidence interval is wider than :data:`UNRELIABLE_WIDTH` of its value, or whose
    rounds were too few for an interval at :data:`MIN_LEVEL`.

    (An older run's interquartile range, stored in the same keys, is narrower than the confidence interval of
    the same rounds: one already too wide says the same.)
    """
    s = interval(results, key)
    return s is not None and _kind(key) == "ratio" and (not s.reliable or level(results, key) < MIN_LEVEL)


def supported_value(results: Mapping[str, Any], key: str, op: str) -> float | None:
    """The value a claim ``key op bound`` is judged on: the end of ``key``'s confidence interval least
    favourable to the claim (the low end for ``>=`` and ``>``, the high end for ``<=`` and ``<``), so a claim
    holds only when the whole interval supports it; the value itself for a figure without an interval (sizes
    and parameter counts are exact). None when the run lacks the figure."""
    value = _number(results.get(key))
    if value is None or math.isnan(value):
        return None
    s = interval(results, key)
    if s is None:
        return value
    return s.low if op in (">=", ">") else s.high


def level(results: Mapping[str, Any], key: str) -> float:
    """The confidence level of ``key``'s interval: :data:`CONFIDENCE` unless the run stored a lower one."""
    stored = _number(results.get(f"{key}_level"))
    return CONFIDENCE if stored is None or math.isnan(stored) else stored


def legacy_iqr(results: Mapping[str, Any], key: str) -> bool:
    """Whether ``key``'s bounds are an older run's interquartile range rather than a confidence interval."""
    return key in TIMED and f"{key}_low" in results and f"{key}_q1" not in results


def interval_label(results: Mapping[str, Any], key: str) -> str:
    """What the brackets beside ``key`` are, for a person: ``"95 % CI (Wilson)"``, ``"95 % CI of the median over
    the rounds; IQR 4.90–5.20"``; ``""`` when the figure has no interval."""
    if interval(results, key) is None:
        return ""
    if legacy_iqr(results, key):
        return "interquartile range of the rounds (an older run: no confidence interval)"
    at = level(results, key)
    ci = f"{100 * CONFIDENCE:.0f} % CI" if at >= CONFIDENCE else f"{100 * at:.1f} % CI (too few rounds for 95 %)"
    if key in TIMED:
        q1, q3 = _number(results.get(f"{key}_q1")), _number(results.get(f"{key}_q3"))
        iqr = f"; IQR {_bare(_kind(key), q1)}\u2013{_bare(_kind(key), q3)}" if q1 is not None and q3 is not None else ""
        return f"{ci} of the median over the rounds{iqr}"
    if key == "accuracy" or key == "baseline_accuracy":
        return f"{ci} (Wilson)"
    if key.endswith("_retained"):
        return f"{ci} (paired bootstrap)"
    return f"{ci} (bootstrap over the examples)"


def with_interval(key: str, value: Any, low: Any = None, high: Any = None, at: float = CONFIDENCE) -> str:
    """``"83.45 % (80.12–86.30)"``, ``"5.10x (4.80–5.30)"``; the value alone without bounds.

    The brackets hold a 95 % confidence interval; one at a lower level (``at``) says its level inside them.
    """
    text = format_figure(key, value)
    lo, hi = _number(low), _number(high)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi) or _number(value) is None:
        return text
    kind = _kind(key)
    note = "" if at >= CONFIDENCE else f"; {100 * at:.1f} % CI"
    return f"{text} ({_bare(kind, lo)}\u2013{_bare(kind, hi)}{note})"


def describe(results: Mapping[str, Any], key: str) -> str:
    """A figure as shown to a person: its value, its interval, and a mark when it cannot be trusted.

    A speedup the run declined to claim (a model too small to time) reads as the note that says why.
    """
    if key == "speedup" and _number(results.get("speedup")) is None and results.get("speed_note"):
        return str(results["speed_note"])
    text = with_interval(key, results.get(key), results.get(f"{key}_low"), results.get(f"{key}_high"),
                         level(results, key))
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
    interval: str = ""  # what the brackets in ``text`` are (:func:`interval_label`)


def group_label(group: str, results: Mapping[str, Any]) -> str:
    """A group's name as shown beside ``results``: the task figures' group reads "quality" for a task that has no
    accuracy (token classification, question answering, regression, multi-label)."""
    return "quality" if group == "accuracy" and "accuracy" not in results else group


def is_companion(key: str) -> bool:
    """Keys stored beside the figures (intervals, notes, raw timings) rather than figures of their own."""
    return key in NOT_FIGURES or any(key.endswith(s) and key[: -len(s)] in _BY_KEY for s in COMPANIONS)


def rows(results: Mapping[str, Any]) -> list[FigureRow]:
    """The figures of ``results`` in display order (grouped accuracy, size, speed; then unknown keys by name)."""
    out = []
    for f in FIGURES:
        if f.key in results or (f.key == "speedup" and results.get("speed_note")):
            out.append(FigureRow(f.key, f.group, f.label, describe(results, f.key), f.help,
                                 interval_label(results, f.key)))
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


def headline(results: Mapping[str, Any]) -> str | None:
    """The key of the task's headline figure among ``results`` (``accuracy``, ``entity_f1``...), None without one."""
    from core.metrics.task_figures import HEADLINES

    return next((key for key in HEADLINES.values() if key in results), None)


def summary(results: Mapping[str, Any]) -> str:
    """One line for the end of a run: the task's headline figure, speed and parameters with their spreads."""
    key = headline(results)
    parts = [f"{label(key)[0].lower() + label(key)[1:]} {describe(results, key)}"] if key else []
    speed = _number(results.get("speedup"))
    if speed is not None and not math.isnan(speed):
        parts.append(describe(results, "speedup"))
    elif results.get("speed_note"):
        parts.append("speedup not claimed (model too small to time)")
    if "parameter_ratio" in results:
        parts.append(phrase("parameter_ratio", results["parameter_ratio"]))
    return ", ".join(parts)
