"""Training throughput of fine-tuning with 1 and with 2 local processes (torchrun, gloo), same global batch.

Each measurement is a real ``bert-studio run`` (``python -m core.cli run``), one process or two under
``python -m torch.distributed.run``, on the same recipe: fine-tuning the embedded MiniLM for ``--steps``
optimiser steps of ``--batch`` sentences (with 2 processes each takes half of every batch). Throughput
is taken from rank 0's event stream between the first and last optimiser step (``train/loss`` events),
so start-up, loading and the final evaluation do not count. The two settings alternate, ``--repeats``
times each; one process uses every core, each of two processes half of them.

    .venv/bin/python -m bench.distributed_throughput            # the real figure (minutes)
    .venv/bin/python -m bench.distributed_throughput --model tiny --steps 4 --repeats 1   # a smoke check
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import write_result

ROOT = Path(__file__).resolve().parents[1]


def _recipe(folder: Path, model: str, steps: int, batch: int, max_length: int) -> Path:
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    return Recipe(name="throughput", model=ModelRef(model), cache=False, device="cpu",
                  steps=[Step("finetune", {"max_steps": steps, "batch_size": batch, "eval_every": 0})],
                  data=DataRef(train_samples=steps * batch, validation_samples=16, test_samples=16,
                               max_length=max_length),
                  evaluation=EvaluationSettings(max_samples=16, latency_repeats=1, latency_batch_size=8),
                  ).save(folder / "recipe.json")


def measure(recipe: Path, processes: int, batch: int, home: Path) -> dict:
    """One run; samples per second between its first and last optimiser step, from rank 0's events."""
    from core import events as ev
    from core.engine.event_stream import EventReader
    from core.engine.local_launch import free_port

    events = home / f"events-{processes}-{os.getpid()}-{len(list(home.glob('events-*')))}.jsonl"
    cli = ["-m", "core.cli", "run", str(recipe), "--db", f"sqlite:///{home / 'runs.db'}", "--quiet", "--events",
           str(events)]
    launcher = [] if processes == 1 else ["-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
                                          str(processes), "--master_addr", "127.0.0.1", "--master_port",
                                          str(free_port())]
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "BERT_STUDIO_HOME": str(home), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, *launcher, *cli], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"the {processes}-process run failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    steps = [(e.step, e.time) for e in EventReader(events).read() if isinstance(e, ev.Metric) and e.key == "train/loss"]
    (first, t0), (last, t1) = steps[0], steps[-1]
    if last <= first:
        raise RuntimeError("need at least two optimiser steps to time")
    return {"processes": processes, "threads_each": threads, "steps_timed": last - first,
            "seconds": t1 - t0, "samples_per_s": (last - first) * batch / (t1 - t0)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="default (the embedded MiniLM) or tiny (a smoke check)")
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per run")
    parser.add_argument("--batch", type=int, default=32, help="global batch (split between the processes)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting, alternated")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        recipe = _recipe(home, args.model, args.steps, args.batch, args.max_length)
        for _ in range(args.repeats):
            for processes in (1, 2):
                runs.append(measure(recipe, processes, args.batch, home))
                print(runs[-1], flush=True)
    by = {p: [r["samples_per_s"] for r in runs if r["processes"] == p] for p in (1, 2)}
    one, two = statistics.median(by[1]), statistics.median(by[2])
    name = "distributed_throughput" if args.model == "default" else f"distributed_throughput_{args.model}_smoke"
    write_result(name, {
        "model": args.model, "steps": args.steps, "global_batch": args.batch, "max_length": args.max_length,
        "repeats": args.repeats, "runs": runs,
        "samples_per_s": {"1 process": one, "2 processes": two}, "speedup_2_over_1": two / one,
        "note": "median of alternated runs; each timed between the first and last optimiser step on rank 0",
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
