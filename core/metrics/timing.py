"""Raw per-round timings and the figures derived from them, without torch (the studio and the CLI re-derive).

A :class:`Timing` is what :func:`core.metrics.latency.time_rounds` measured: for
each model, seconds per batch in every round, and the :class:`Protocol` they
were taken under. It is stored with the run as JSON (``to_dict``: the protocol
and the rounds in ms); :func:`speed_figures` turns it into latencies and a
speedup with their intervals, or a note when the baseline is too fast to time.

Every timed figure ``KEY`` comes with ``KEY_low`` / ``KEY_high``, the 95 % confidence interval of its median
from order statistics over the rounds (at ``KEY_level``, lower than 0.95 under six rounds), and ``KEY_q1`` /
``KEY_q3``, the interquartile range of the rounds (how much one round differs from the next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.metrics.intervals import Interval, median_interval, ratio_interval
from core.metrics.protocol import MIN_BASELINE_MS, Protocol


@dataclass
class Timing:
    """Per-round seconds per batch of each model, and how they were taken."""

    protocol: Protocol
    rounds: dict[str, list[float]] = field(default_factory=dict)  # name -> seconds per batch, one per round

    def latency(self, name: str) -> Interval:
        """Median ms per batch with its confidence interval and interquartile range."""
        return median_interval(self.rounds[name]).scaled(1000)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the protocol and the raw rounds in ms (what a stored run keeps)."""
        return {"protocol": self.protocol.to_dict(),
                "rounds_ms": {k: [round(v * 1000, 6) for v in vs] for k, vs in self.rounds.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Timing":
        return cls(Protocol.from_dict(data.get("protocol") or {}),
                   {k: [float(v) / 1000 for v in vs] for k, vs in (data.get("rounds_ms") or {}).items()})


def interval_figures(key: str, interval: Interval) -> dict[str, float]:
    """``KEY``, its confidence interval ``KEY_low``/``KEY_high`` at ``KEY_level``, its IQR ``KEY_q1``/``KEY_q3``."""
    return {key: interval.value, f"{key}_low": interval.low, f"{key}_high": interval.high,
            f"{key}_level": interval.level, f"{key}_q1": interval.q1, f"{key}_q3": interval.q3}


def speed_figures(timing: Timing | dict[str, Any], candidate: str = "final", baseline: str = "baseline"
                  ) -> dict[str, Any]:
    """Latency and speedup with their intervals from raw rounds; a note instead of a speedup for tiny models.

    Keys: ``latency_ms``, and with a baseline ``baseline_latency_ms``, then either ``speedup`` or
    ``speed_note``; each figure with the companions of :func:`interval_figures`.
    """
    if isinstance(timing, dict):
        timing = Timing.from_dict(timing)
    out: dict[str, Any] = {}
    if candidate in timing.rounds:
        out.update(interval_figures("latency_ms", timing.latency(candidate)))
    if baseline in timing.rounds and candidate in timing.rounds:
        base = timing.latency(baseline)
        out.update(interval_figures("baseline_latency_ms", base))
        if base.q1 < MIN_BASELINE_MS:
            # Under a millisecond, timer resolution and scheduling noise are a large share of what is measured.
            # The lower quartile decides: a busy machine only ever adds time, so it shows the work itself best.
            out["speed_note"] = (f"too small to time (baseline {base.q1:.2f} ms per batch, under "
                                 f"{MIN_BASELINE_MS:g} ms): no speedup claimed")
        else:
            out.update(interval_figures("speedup", ratio_interval(timing.rounds[baseline], timing.rounds[candidate])))
    return out
