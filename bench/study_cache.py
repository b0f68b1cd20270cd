"""The step cache's worth: an order study's wall time with the cache against the same recipes one by one without it.

``python -m bench.study_cache`` runs the shipped order study
(``resources/studies/order-heads-ffn-int8.yaml``: prune.heads 50 %, prune.ffn 50 %, dynamic int8,
each alone and in every order the stack validator accepts, on the embedded default) twice in one
sitting: once as a study (one worker, a fresh step cache: the teacher is fine-tuned once), once as
the same trial recipes run one after another with no cache (every run fine-tunes its own teacher).
Target: at least 3x less wall time with the cache. Wall time and process CPU time are both recorded, with
the load average around each half: other work on the machine stretches wall time, CPU time much less. ``--train N`` shrinks the data to fit a sitting;
``--model tiny`` checks the script itself in seconds. Writes ``docs/results/study_cache.json``
with the study's interaction table as text.
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
    parser.add_argument("--folder", help="keep the database and step cache here (default: a fresh temporary folder); "
                                         "a later `bert-studio study run --db sqlite:///FOLDER/studio.db` reuses the cache")
    args = parser.parse_args(argv)
    setup(args.threads)

    from core.cli.study_cmd import interaction_text
    from core.engine import Engine
    from core.engine.cache import StepCache, cache_root_for
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

    load = [_load()]
    t0, c0 = time.perf_counter(), time.process_time()
    study_id = create_study(spec, url)
    outcome = StudyRunner(url, study_id, cache=StepCache(cache_root_for(url)), workdir_root=folder / "runs-cached").run()
    cached_s, cached_cpu = time.perf_counter() - t0, time.process_time() - c0
    load.append(_load())
    report = study_report(url, study_id)

    engine = Engine(workdir_root=folder / "runs-uncached")
    t0, c0 = time.perf_counter(), time.process_time()
    statuses = [engine.run(t.recipe).status for t in runnable]
    uncached_s, uncached_cpu = time.perf_counter() - t0, time.process_time() - c0
    load.append(_load())

    ratio = uncached_s / cached_s
    figures = {
        "study": spec.name, "trials": len(plan(spec)), "runnable": len(runnable), "study_status": outcome.status,
        "data": {"train_samples": spec.recipe.data.train_samples, "model": spec.recipe.model.source},
        "with_cache_s": round(cached_s, 1), "without_cache_s": round(uncached_s, 1), "ratio": round(ratio, 2),
        "with_cache_cpu_s": round(cached_cpu, 1), "without_cache_cpu_s": round(uncached_cpu, 1),
        "cpu_ratio": round(uncached_cpu / cached_cpu, 2),
        "load_average_1min": {"start": load[0], "after_cached": load[1], "after_uncached": load[2]},
        "target": TARGET, "uncached_statuses": statuses, "folder": str(folder), "study_id": study_id,
        "interaction": interaction_text(report.interaction),
        "trials_table": [[t.label, t.status, {k: t.figures.get(k) for k in ("accuracy_retained", "speedup",
                                                                          "size_ratio")}] for t in report.trials],
    }
    write_result("study_cache", figures)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
