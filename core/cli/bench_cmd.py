"""``bert-studio bench RUN [RUN ...]``: re-measure recorded runs now, side by side with their baseline.

Each run's final model and the baseline (the original model of its recipe, see
:mod:`core.services.side_by_side`) are timed in alternation in this process, so
the speedups printed are comparable with each other, unlike latencies recorded
by runs at different times. Every figure comes with its interval and the
protocol it was measured under; a wide interval is marked unreliable and a
model too small to time gets a note instead of a speedup.
"""

from __future__ import annotations

import argparse
import sys

from core.cli.format import table
from core.metrics import figures
from core.metrics.protocol import PROFILES
from core.services.side_by_side import BASELINE_WHAT, DEFAULT_ROUNDS, SideBySide


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench", help="time runs' final models against their baseline now, side by side, with intervals",
        description="Load each run's final model and its baseline and time them in alternation in one process, "
        "now, on this machine. Speedups are medians of per-round ratios with their interquartile range.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or unambiguous prefixes)")
    p.add_argument("--profile", action="append", choices=PROFILES, dest="profiles", metavar="PROFILE",
                   help=f"latency profile to time, repeatable ({', '.join(PROFILES)}; default: the first run's "
                   "evaluation.latency_profiles)")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                   help=f"alternating rounds per profile (default {DEFAULT_ROUNDS})")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the recipe's, or torch's)")
    p.set_defaults(func=run)
    return p


def _progress(current: int, total: int, message: str) -> None:
    print(f"  [{current}/{total}] {message}", file=sys.stderr, flush=True)


def report_text(result: SideBySide) -> str:
    """The speed table (one row per run and profile) and the protocol of each profile, then the notes."""
    rows, protocols, notes = [], {}, []
    for m in result.runs:
        name = f"{m.name} ({m.run_id[:8]})"
        size = figures.phrase("size_ratio", m.size_ratio) if m.size_ratio is not None else "-"
        for n, p in enumerate(m.profiles):
            f = p.figures
            rows.append([name if n == 0 else "", p.profile, figures.describe(f, "latency_ms"),
                         figures.describe(f, "baseline_latency_ms"), figures.describe(f, "speedup"),
                         size if n == 0 else ""])
            protocols.setdefault(p.profile, p.protocol.describe())
            if figures.unreliable(f):
                notes.append(f"{name}, {p.profile}: the rounds disagree by more than {figures.UNRELIABLE_WIDTH:.0%}"
                             " of the median; re-run on a quieter machine or with more --rounds")
    out = [table(rows, ["run", "profile", "latency", "baseline latency", "speedup", "size"]), ""]
    out += [f"  {name}: {how}" for name, how in protocols.items()]
    out += ["", f"baseline: {BASELINE_WHAT}"]
    out += [f"note: {n}" for n in notes]
    return "\n".join(out)


def run(args) -> int:
    from core.cli.database import open_repository
    from core.errors import StudioError
    from core.services.side_by_side import measure_runs

    if args.rounds < 1:
        raise StudioError("--rounds must be at least 1")
    _, repo = open_repository(getattr(args, "db", None))
    result = measure_runs(repo, args.runs, profiles=args.profiles, rounds=args.rounds, threads=args.threads,
                          progress=_progress)
    print("measured now, side by side (median of per-round ratios, interquartile range in brackets):\n")
    print(report_text(result))
    return 0
