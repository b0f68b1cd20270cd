"""Formatting of figures for terminal tables."""

from __future__ import annotations

FIGURE_ORDER = (
    "accuracy", "baseline_accuracy", "accuracy_retained", "parameters", "baseline_parameters", "parameter_ratio",
    "nonzero_parameters", "size_bytes", "baseline_size_bytes", "size_ratio", "latency_ms", "baseline_latency_ms", "speedup",
)


def ordered(results: dict) -> list[tuple[str, object]]:
    known = [(k, results[k]) for k in FIGURE_ORDER if k in results]
    rest = sorted((k, v) for k, v in results.items() if k not in FIGURE_ORDER)
    return known + rest


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])
