"""Raw per-round timings and the figures derived from them, without torch (the studio and the CLI re-derive).

A :class:`Timing` is what :func:`core.metrics.latency.time_rounds` measured: for
each model, seconds per batch in every round, and the :class:`Protocol` they
were taken under. It is stored with the run as JSON (``to_dict``: the protocol
and the rounds in ms); :func:`speed_figures` turns it into latencies and a
speedup with their intervals, or a note when the baseline is too fast to time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.metrics.intervals import Spread, ratio_spread, spread
from core.metrics.protocol import MIN_BASELINE_MS, Protocol


@dataclass
class Timing:
    """Per-round seconds per batch of each model, and how they were taken."""

    protocol: Protocol
    rounds: dict[str, list[float]] = field(default_factory=dict)  # name -> seconds per batch, one per round

    def latency(self, name: str) -> Spread:
        """Median ms per batch with its interquartile range."""
        s = spread(self.rounds[name])
        return Spread(s.value * 1000, s.low * 1000, s.high * 1000)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the protocol and the raw rounds in ms (what a stored run keeps)."""
        return {"protocol": self.protocol.to_dict(),
                "rounds_ms": {k: [round(v * 1000, 6) for v in vs] for k, vs in self.rounds.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Timing":
        return cls(Protocol.from_dict(data.get("protocol") or {}),
                   {k: [float(v) / 1000 for v in vs] for k, vs in (data.get("rounds_ms") or {}).items()})


def speed_figures(timing: Timing | dict[str, Any], candidate: str = "final", baseline: str = "baseline"
                  ) -> dict[str, Any]:
    """Latency and speedup with their intervals from raw rounds; a note instead of a speedup for tiny models.

    Keys: ``latency_ms`` (+ ``_low``/``_high``), and with a baseline ``baseline_latency_ms`` (+ interval),
    then either ``speedup`` (+ ``speedup_low``/``speedup_high``) or ``speed_note``.
    """
    if isinstance(timing, dict):
        timing = Timing.from_dict(timing)
    out: dict[str, Any] = {}
    if candidate in timing.rounds:
        lat = timing.latency(candidate)
        out.update(latency_ms=lat.value, latency_ms_low=lat.low, latency_ms_high=lat.high)
    if baseline in timing.rounds and candidate in timing.rounds:
        base = timing.latency(baseline)
        out.update(baseline_latency_ms=base.value, baseline_latency_ms_low=base.low, baseline_latency_ms_high=base.high)
        if base.low < MIN_BASELINE_MS:
            # Under a millisecond, timer resolution and scheduling noise are a large share of what is measured.
            # The lower quartile decides: a busy machine only ever adds time, so it shows the work itself best.
            out["speed_note"] = (f"too small to time (baseline {base.low:.2f} ms per batch, under "
                                 f"{MIN_BASELINE_MS:g} ms): no speedup claimed")
        else:
            ratio = ratio_spread(timing.rounds[baseline], timing.rounds[candidate])
            out.update(speedup=ratio.value, speedup_low=ratio.low, speedup_high=ratio.high)
    return out
