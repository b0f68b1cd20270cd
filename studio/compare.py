"""Qt-free arithmetic behind the run comparison: Pareto fronts on ratios, recipe diffs, a paper-style results table,
and which accuracies differ by less than the noise."""

from __future__ import annotations

import math
from typing import Any, Sequence

from core.metrics import figures
from core.metrics.intervals import accuracy_differs, overlaps
from core.metrics.task_figures import headline_key, headline_value_text
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
UNRELIABLE_MARK = "(unreliable)"
TOO_SMALL = "too small to time"


def _interval(results: dict, key: str, pattern: str, scale: float = 1.0) -> str:
    low, high = _num(results, f"{key}_low"), _num(results, f"{key}_high")
    if math.isnan(low) or math.isnan(high):
        return ""
    return f" ({pattern.format(scale * low)}\u2013{pattern.format(scale * high)})"


def results_row(name: str, results: dict) -> list[str]:
    """One line of the results table, formatted as a paper would (blank where a figure is missing).

    Accuracy and speedup carry their intervals when the run recorded them; a speedup whose interval is wide
    is marked unreliable, and a run too small to time reads "too small to time" instead of a speedup.
    """
    key = headline_key(results)  # accuracy, or a task run's own headline (entity F1, answer F1, Pearson ...)
    acc, kept, params = _num(results, key), _num(results, f"{key}_retained"), _num(results, "parameters")
    size, speed = _num(results, "size_bytes"), _num(results, "speedup")

    def fmt(x: float, pattern: str) -> str:
        return "" if math.isnan(x) else pattern.format(x)

    if key == "accuracy" or figures.spec(key) is None or figures.spec(key).kind == "fraction":
        accuracy = fmt(100 * acc, "{:.1f} %") + (_interval(results, key, "{:.1f}", 100) if acc == acc else "")
    else:  # a correlation or an error, not a share
        accuracy = fmt(acc, "{:.3f}") + (_interval(results, key, "{:.3f}") if acc == acc else "")
    if accuracy and key != "accuracy":
        accuracy = f"{figures.label(key)} {accuracy}"
    speedup = fmt(speed, "{:.2f}x") + (_interval(results, "speedup", "{:.2f}") if speed == speed else "")
    if speedup and figures.unreliable(results, "speedup"):
        speedup += " " + UNRELIABLE_MARK
    elif not speedup and results.get("speed_note"):
        speedup = TOO_SMALL
    return [name, accuracy, fmt(100 * kept, "{:.1f} %"), fmt(params / 1e6, "{:.2f} M"), fmt(size / 1e6, "{:.1f}"),
            speedup]


# What the scatters plot: ratios against each run's baseline, measured in the run (or side by side, now).
# Never absolute latencies: two runs timed at different moments on a busy machine do not compare by them.
SCATTER_AXES = {"speedup": ("speedup", "speedup vs baseline (x, higher is better)"),
                "size": ("size_ratio", "size vs baseline (x smaller, higher is better)")}


def size_ratio(results: dict) -> float:
    """Baseline size / final size: recorded, or from the two sizes the run recorded."""
    ratio = _num(results, "size_ratio")
    if math.isnan(ratio):
        base, size = _num(results, "baseline_size_bytes"), _num(results, "size_bytes")
        ratio = base / size if size > 0 and base == base else math.nan
    return ratio


def scatter_points(results: Sequence[dict], axis: str) -> tuple[list[float], list[float]]:
    """(ratio against the baseline, accuracy) per run; ``axis`` is ``speedup`` or ``size``.

    A run without the ratio (its baseline not measured, or too small to time) gets NaN: it is left out
    and explained, never placed by an absolute latency.
    """
    xs = [size_ratio(r) if axis == "size" else _num(r, SCATTER_AXES[axis][0]) for r in results]
    return xs, [_num(r, headline_key(r)) for r in results]


def headline_axis(results: Sequence[dict]) -> str:
    """The scatters' vertical axis: the runs' headline figure's label (``accuracy``, ``Entity F1`` ...), or
    "headline figure (runs of different tasks)" when the runs do not share one."""
    keys = {headline_key(r) for r in results if r}
    if len(keys) > 1:
        return "headline figure (runs of different tasks)"
    key = keys.pop() if keys else "accuracy"
    return "accuracy" if key == "accuracy" else figures.label(key)


def ratio_front(ratios: Sequence[float], scores: Sequence[float]) -> list[int]:
    """The Pareto front where a higher ratio and a higher score are both better (highest ratio first)."""
    return pareto_front([-x for x in ratios], scores)


def accuracy_ties(names: Sequence[str], results: Sequence[dict]) -> list[str]:
    """One sentence per pair of runs whose headline figures (accuracy, or a task's: entity F1, SQuAD F1...)
    differ by less than the noise of their test sets.

    For accuracy with the example counts recorded (``evaluated``) a two-proportion test decides; otherwise
    overlapping 95 % intervals do; without either nothing is said. Runs without the figure are left out.
    """
    out = []
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            a, b = results[i], results[j]
            key = headline_key(a)
            acc_a, acc_b = _num(a, key), _num(b, key)
            if math.isnan(acc_a) or math.isnan(acc_b):
                continue
            n_a, n_b = _num(a, "evaluated"), _num(b, "evaluated")
            if key == "accuracy" and n_a > 0 and n_b > 0:  # NaN compares false
                tie = not accuracy_differs(acc_a, int(n_a), acc_b, int(n_b))
            else:
                sa, sb = figures.interval(a, key), figures.interval(b, key)
                if sa is None or sb is None:
                    continue
                tie = overlaps(sa, sb)
            if tie:
                name = "accuracy" if key == "accuracy" else figures.label(key)  # Entity F1, Pearson r
                out.append(f"{names[i]} and {names[j]} differ in {name} by less than the "
                           f"noise ({headline_value_text(key, acc_a)} and {headline_value_text(key, acc_b)})")
    return out


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
TOO_SMALL_REASON = "is too small to time (under a millisecond per batch: no speedup claimed)"
BASELINE_OFF = "has the baseline measurement turned off in its recipe (evaluation: measure_baseline)"


def missing_reason(status: str, recipe: dict | None, results: dict, key: str) -> str | None:
    """Why a run has no final figure ``key``, in words that follow the run's name; ``None`` if it has it.

    Every finished run has accuracy, parameters, size and latency (the engine always measures them); the
    figures relative to the baseline exist only when the recipe's evaluation measured the baseline too.
    """
    if not math.isnan(_num(results, key)):
        return None
    if key == "speedup" and results.get("speed_note"):
        return TOO_SMALL_REASON
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
