"""Figures as people read them, shared by the CLI's tables and the studio's views."""

from __future__ import annotations

import math


def format_figure(key: str, value) -> str:
    """Accuracies in %, sizes in MB, ratios as 1.23x, latencies in ms, parameters with separators."""
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "n/a"
    if "accuracy" in key or key.endswith("retained") or key == "sparsity":
        return f"{100 * v:.2f} %"
    if key.endswith("size_bytes"):
        return f"{v / 1e6:.2f} MB"
    if key.endswith("ratio") or key == "speedup":
        return f"{v:.2f}x"
    if key.endswith("_ms"):
        return f"{v:.1f} ms"
    if key.endswith("parameters"):
        return f"{int(v):,}"
    return f"{v:.4g}"
