"""Terminal tables of a run's figures, named and ordered by :mod:`core.metrics.figures`."""

from __future__ import annotations

from typing import Any, Mapping

from core.metrics import figures


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def figures_table(results: Mapping[str, Any]) -> str:
    """Grouped figures (accuracy, size, speed) with their intervals, each interval labelled (a 95 % confidence
    interval and how it was made; a timed figure's interquartile range beside it); the group is named on its
    first row."""
    rows, last = [], None
    for row in figures.rows(results):
        rows.append([figures.group_label(row.group, results) if row.group != last else "", row.label, row.text,
                     row.interval])
        last = row.group
    return table(rows, ["group", "figure", "value", "in brackets"])


def speed_table(results: Mapping[str, Any]) -> str:
    """Latency and speedup for every profile the run timed, each with the protocol it was measured under."""
    per_profile = figures.profile_figures(results)
    if not per_profile:
        return f"latency: {figures.NO_PROTOCOL}" if "latency_ms" in results else ""
    rows = [[name, figures.describe(f, "latency_ms"), figures.describe(f, "baseline_latency_ms") if
             "baseline_latency_ms" in f else "-", figures.describe(f, "speedup") if
             ("speedup" in f or "speed_note" in f) else "-"] for name, f, _ in per_profile]
    out = [table(rows, ["profile", "latency", "baseline latency", "speedup"]), ""]
    out += [f"  {name}: {how}" for name, _, how in per_profile]
    labels = [f"  {name}, speedup: {figures.interval_label(f, 'speedup')}" for name, f, _ in per_profile
              if figures.interval_label(f, "speedup")]
    if labels:
        out += ["in brackets: the confidence interval of the median (order statistics over the rounds); "
                "IQR: how much one round differs from the next"] + labels
    return "\n".join(out)


def _change_value(name: str, value: Any) -> str:
    if "accuracy" in name or "unknown" in name:
        return f"{100 * float(value):.2f} %"
    if name.endswith("size_bytes"):
        return figures.format_figure(name, value)
    return f"{int(value):,}" if float(value).is_integer() else f"{float(value):.4g}"


def data_changes_text(results: Mapping[str, Any]) -> str:
    """What the steps that changed the run's data changed, before -> after (``""`` when none did)."""
    lines = []
    for change in results.get("data_changes") or ():
        if not isinstance(change, Mapping):
            continue
        names = [k.removesuffix("_before") for k in change
                 if k.endswith("_before") and f"{k.removesuffix('_before')}_after" in change]
        what = "; ".join(f"{n.replace('_', ' ')} {_change_value(n, change[f'{n}_before'])} -> "
                         f"{_change_value(n, change[f'{n}_after'])}" for n in names)
        lines.append(f"  step {int(change.get('step', -1)) + 1} ({change.get('method') or '?'}): {what}")
    if not lines:
        return ""
    return "\n".join(["the run's data changed (the figures above compare with the baseline as it was, on its own "
                      "data):"] + lines)


def results_text(results: Mapping[str, Any]) -> str:
    """The figures table, then speed by profile with its protocol, then any data change (what ``run`` and
    ``show`` print)."""
    speed = speed_table(results)
    if speed and figures.profile_figures(results):
        speed = f"speed by latency profile (the first gives the headline figures):\n{speed}"
    changes = data_changes_text(results)
    return figures_table(results) + (f"\n\n{speed}" if speed else "") + (f"\n\n{changes}" if changes else "")
