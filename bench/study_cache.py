"""The step cache's worth: an order study's wall time with the cache against the same recipes one by one without it.

``python -m bench.study_cache`` runs the shipped order study
(``resources/studies/order-heads-ffn-int8.yaml``: prune.heads 50 %, prune.ffn 50 %, dynamic int8,
each alone and in every order the stack validator accepts, on the embedded default) twice in one
sitting: once as a study (one worker, a fresh step cache: the teacher is fine-tuned once), once as
the same trial recipes run one after another with no cache (every run fine-tunes its own teacher).
Target: at least 3x less wall time with the cache. ``--train N`` shrinks the data to fit a sitting;
``--model tiny`` checks the script itself in seconds. Writes ``bench/results/study_cache.json``
with the study's interaction table as text.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import setup, write_result

STUDY = Path(__file__).parents[1] / "resources" / "studies" / "order-heads-ffn-int8.yaml"
TARGET = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.study_cache", description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(STUDY))
    parser.add_argument("--train", type=int, help="training sentences (default: the study file's)")
    parser.add_argument("--model", help="model source instead of the study file's (tiny: a smoke test)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    setup(args.threads)

    from core.cli.study_cmd import interaction_text
    from core.engine import Engine
    from core.engine.cache import StepCache
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
    folder = Path(tempfile.mkdtemp(prefix="bench-study-cache-"))
    url = f"sqlite:///{folder / 'studio.db'}"

    t0 = time.perf_counter()
    study_id = create_study(spec, url)
    outcome = StudyRunner(url, study_id, cache=StepCache(folder / "cache"), workdir_root=folder / "runs-cached").run()
    cached_s = time.perf_counter() - t0
    report = study_report(url, study_id)

    engine = Engine(workdir_root=folder / "runs-uncached")
    t0 = time.perf_counter()
    statuses = [engine.run(t.recipe).status for t in runnable]
    uncached_s = time.perf_counter() - t0

    ratio = uncached_s / cached_s
    figures = {
        "study": spec.name, "trials": len(plan(spec)), "runnable": len(runnable), "study_status": outcome.status,
        "data": {"train_samples": spec.recipe.data.train_samples, "model": spec.recipe.model.source},
        "with_cache_s": round(cached_s, 1), "without_cache_s": round(uncached_s, 1), "ratio": round(ratio, 2),
        "target": TARGET, "uncached_statuses": statuses,
        "interaction": interaction_text(report.interaction),
        "trials_table": [[t.label, t.status, {k: t.figures.get(k) for k in ("accuracy_retained", "speedup",
                                                                          "size_ratio")}] for t in report.trials],
    }
    write_result("study_cache", figures)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
