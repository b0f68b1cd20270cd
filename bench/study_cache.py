"""The step cache's worth: an order study's wall time through the study runner with the cache on and off.

``python -m bench.study_cache`` runs the shipped order study
(``resources/studies/order-heads-ffn-int8.yaml``: prune.heads 50 %, prune.ffn 50 %, dynamic int8,
each alone and in every order the stack validator accepts, on the embedded default) several times in
one sitting, each time as a fresh study through the same :class:`~core.study.runner.StudyRunner` (one
worker, its data tokenized once, every run recorded): with a fresh step cache (the teacher is fine-tuned
once, shared prefixes reused) and with none (every trial fine-tunes its own teacher). The halves alternate
in ABBA order (on, off, off, on, ...) so a slow drift of the machine favours neither; ``--pairs`` pairs
(at least two). The figure is the median of the per-pair ratios (without / with) with its confidence
interval (order statistics; two pairs give only a 50 % interval, which the result says) and the range.
Target: at least 3x less wall time with the cache. Wall time and process CPU time are both recorded,
with the load average around each half: other work on the machine stretches wall time, CPU time much
less. ``--train N`` shrinks the data to fit a sitting; ``--model tiny`` checks the script itself in
seconds. Writes ``docs/results/study_cache.json`` with the cached study's interaction table as text.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import setup, write_result

STUDY = Path(__file__).parents[1] / "resources" / "studies" / "order-heads-ffn-int8.yaml"
TARGET = 3.0


def _load() -> float:
    """The 1-minute load average: other work sharing the cores stretches wall time (CPU time much less)."""
    return round(os.getloadavg()[0], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.study_cache", description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(STUDY))
    parser.add_argument("--train", type=int, help="training sentences (default: the study file's)")
    parser.add_argument("--model", help="model source instead of the study file's (tiny: a smoke test)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--pairs", type=int, default=2, help="pairs of halves, cache on and off (at least 2)")
    parser.add_argument("--folder", help="keep the database, runs and step caches here (default: a fresh temporary "
                                         "folder)")
    args = parser.parse_args(argv)
    if args.pairs < 2:
        parser.error("--pairs: at least 2 (each half twice, in alternating order)")
    setup(args.threads)

    from core.cli.study_cmd import interaction_text
    from core.engine.cache import StepCache
    from core.metrics.intervals import median_interval
    from core.study.plan import plan
    from core.study.runner import StudyRunner, create_study, study_report
    from core.study.spec import StudySpec

    spec = StudySpec.load(args.study)
    if args.train:
        spec.recipe.data.train_samples = args.train
    if args.model:
        spec.recipe.model.source = args.model
    spec = StudySpec.from_dict({**spec.to_dict(), "recipe": spec.recipe.to_dict()})
    runnable = [t for t in plan(spec) if not t.problems]
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="bench-study-cache-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'studio.db'}"

    halves = []  # one dict per half: cache on?, wall and CPU seconds, load around it, its study
    order = [on for i in range(args.pairs) for on in ((True, False) if i % 2 == 0 else (False, True))]
    for n, cache_on in enumerate(order):
        load_before = _load()
        cache = StepCache(folder / f"cache-{n}") if cache_on else None  # a fresh cache each time
        t0, c0 = time.perf_counter(), time.process_time()
        study_id = create_study(spec, url)
        outcome = StudyRunner(url, study_id, cache=cache, workdir_root=folder / f"runs-{n}").run()
        halves.append({"cache": cache_on, "wall_s": round(time.perf_counter() - t0, 2),
                       "cpu_s": round(time.process_time() - c0, 2), "load_before": load_before,
                       "load_after": _load(), "study_id": study_id, "status": outcome.status,
                       "trial_statuses": [t.status for t in study_report(url, study_id).trials]})
        print(f"half {n + 1}/{len(order)}: cache {'on' if cache_on else 'off'}, {halves[-1]['wall_s']:.1f} s",
              flush=True)
    on = [h for h in halves if h["cache"]]
    off = [h for h in halves if not h["cache"]]
    wall = median_interval([b["wall_s"] / a["wall_s"] for a, b in zip(on, off)])
    cpu = median_interval([b["cpu_s"] / a["cpu_s"] for a, b in zip(on, off) if a["cpu_s"] > 0])
    report = study_report(url, on[0]["study_id"])

    figures = {
        "study": spec.name, "trials": len(plan(spec)), "runnable": len(runnable),
        "data": {"train_samples": spec.recipe.data.train_samples, "model": spec.recipe.model.source},
        "how": "each half a fresh study through the same StudyRunner (one worker, data tokenized once, runs "
               "recorded); cache on: a fresh step cache; off: none; halves in ABBA order",
        "pairs": args.pairs, "order": ["on" if h["cache"] else "off" for h in halves],
        "halves": halves,
        "ratio": round(wall.value, 2), "ratio_ci_low": round(wall.low, 2), "ratio_ci_high": round(wall.high, 2),
        "ratio_ci_level": round(wall.level, 4),
        "ratio_range": [round(min(b["wall_s"] / a["wall_s"] for a, b in zip(on, off)), 2),
                        round(max(b["wall_s"] / a["wall_s"] for a, b in zip(on, off)), 2)],
        "cpu_ratio": round(cpu.value, 2), "cpu_ratio_ci_low": round(cpu.low, 2),
        "cpu_ratio_ci_high": round(cpu.high, 2),
        "target": TARGET, "folder": str(folder),
        "interaction": interaction_text(report.interaction),
        "trials_table": [[t.label, t.status, {k: t.figures.get(k) for k in ("accuracy_retained", "speedup",
                                                                          "size_ratio")}] for t in report.trials],
    }
    write_result("study_cache", figures)
    return 0 if wall.value >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
