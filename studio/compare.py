"""Qt-free arithmetic behind the run comparison: Pareto fronts, recipe diffs, a paper-style results table."""

from __future__ import annotations

import math
from typing import Any, Sequence

from core.recipe_diff import recipe_diff  # noqa: F401  (the diff of effective settings lives in core)

MISSING = "\u2014"


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats (lower or equal cost and higher or equal score, one strictly).

    Points with a NaN coordinate are never on the front. The result is sorted by cost, so it draws as a line.
    """
    points = [(c, s, i) for i, (c, s) in enumerate(zip(costs, scores))
              if c is not None and s is not None and not (math.isnan(c) or math.isnan(s))]
    front = []
    for c, s, i in points:
        beaten = any((c2 <= c and s2 >= s) and (c2 < c or s2 > s) for c2, s2, _ in points)
        if not beaten:
            front.append((c, -s, i))
    return [i for _, _, i in sorted(front)]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1, {"c": 2}]}}`` -> ``{"a.b[0]": 1, "a.b[1].c": 2}``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, (dict, list, tuple)) for v in value):
        for n, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{n}]"))
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value
    return out


def _num(results: dict, key: str) -> float:
    value = results.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


RESULT_COLUMNS = ("Variant", "Accuracy", "Retained", "Params", "Size (MB)", "Speedup")


def results_row(name: str, results: dict) -> list[str]:
    """One line of the results table, formatted as a paper would (blank where a figure is missing)."""
    acc, kept, params = _num(results, "accuracy"), _num(results, "accuracy_retained"), _num(results, "parameters")
    size, speed = _num(results, "size_bytes"), _num(results, "speedup")

    def fmt(x: float, pattern: str) -> str:
        return "" if math.isnan(x) else pattern.format(x)

    return [name, fmt(100 * acc, "{:.1f} %"), fmt(100 * kept, "{:.1f} %"), fmt(params / 1e6, "{:.2f} M"),
            fmt(size / 1e6, "{:.1f}"), fmt(speed, "{:.2f}x")]


def scatter_points(results: Sequence[dict], cost: str) -> tuple[list[float], list[float]]:
    """(cost, accuracy) per run; ``cost`` is ``latency`` (ms) or ``size`` (MB)."""
    key, scale = {"latency": ("latency_ms", 1.0), "size": ("size_bytes", 1e-6)}[cost]
    return [_num(r, key) * scale for r in results], [_num(r, "accuracy") for r in results]


# Figures that exist only when the run also measured its baseline (core.engine.evaluation.final_results).
BASELINE_KEYS = frozenset({"accuracy_retained", "speedup", "parameter_ratio", "size_ratio", "baseline_accuracy",
                           "baseline_parameters", "baseline_size_bytes", "baseline_latency_ms"})
# The results-table column each figure fills, for the notes that explain a blank.
COLUMN_KEYS = {"Accuracy": "accuracy", "Retained": "accuracy_retained", "Params": "parameters",
               "Size (MB)": "size_bytes", "Speedup": "speedup"}
_NOT_FINISHED = {"failed": "failed before its final measurement",
                 "cancelled": "was cancelled before its final measurement",
                 "interrupted": "was interrupted before its final measurement",
                 "running": "is still running", "pending": "has not run yet"}
BASELINE_OFF = "has the baseline measurement turned off in its recipe (evaluation: measure_baseline)"


def missing_reason(status: str, recipe: dict | None, results: dict, key: str) -> str | None:
    """Why a run has no final figure ``key``, in words that follow the run's name; ``None`` if it has it.

    Every finished run has accuracy, parameters, size and latency (the engine always measures them); the
    figures relative to the baseline exist only when the recipe's evaluation measured the baseline too.
    """
    if not math.isnan(_num(results, key)):
        return None
    if status != "finished":
        return _NOT_FINISHED.get(status, f"ended {status} before its final measurement")
    measure = ((recipe or {}).get("evaluation") or {}).get("measure_baseline", True)
    if key in BASELINE_KEYS and not measure:
        return BASELINE_OFF
    return "has no such figure recorded"


def group_reasons(pairs: Sequence[tuple[str, str]]) -> str:
    """``[(name, reason), ...]`` -> ``"a, b reason; c other reason"`` (names in order, reasons in first-seen order)."""
    grouped: dict[str, list[str]] = {}
    for name, reason in pairs:
        grouped.setdefault(reason, []).append(name)
    return "; ".join(f"{', '.join(names)} {reason if len(names) == 1 else _plural(reason)}"
                     for reason, names in grouped.items())


def _plural(reason: str) -> str:
    # "has ... in its recipe" -> "have ... in their recipes"; "was cancelled" -> "were cancelled"; "is" -> "are"
    for singular, plural in (("its recipe", "their recipes"), ("its final", "their final"), ("was ", "were "),
                             ("is still", "are still"), ("has ", "have ")):
        reason = reason.replace(singular, plural)
    return reason
