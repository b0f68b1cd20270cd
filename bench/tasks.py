"""Per task kind: the compressed model against its fine-tuned teacher, at the task's natural shape, in one run.

    python -m bench.tasks                  # the embedded MiniLM at the natural shapes (a quiet machine, minutes)
    python -m bench.tasks --tiny           # a tiny random BERT, shapes capped at its 128 positions: proves it runs

For each of the five task kinds a recipe fine-tunes the teacher on the task's example data (sentence
classification: the embedded review sentences), compresses it (half the heads and half the FFN by importance,
a short recovery fine-tune, int8 linears) and ends with the engine's own measurement: the task's headline
figure for both models with "retained" and its paired bootstrap interval, and latency timed in alternation
with the teacher under the stated protocol (``throughput-fixed``: a batch padded to the task's length), the
speedup being the median of the per-round ratios with its interquartile range, or a note when the teacher is
too small to time. Natural shapes: question answering at 384 tokens with ``doc_stride`` 128 (SQuAD's usual
setting), token classification and the classifiers at 128.

Writes ``docs/results/tasks.json`` (``tasks_tiny.json`` with ``--tiny``); its table in docs/results.md is generated
from the file by ``python -m bench.tables`` (:func:`table` is the renderer). The example
data are small and synthetic (resources/examples/tasks/README.md): the accuracy figures show that each task runs
end to end, not what a model reaches on real data, and timings on a busy machine are marked unreliable and are
not to be quoted (the provenance block records the load average).
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Any

from bench.common import setup, write_result

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples" / "tasks"
KINDS = ("sequence-classification", "token-classification", "question-answering", "regression", "multi-label")
NATURAL_LENGTH = {"sequence-classification": 128, "token-classification": 128, "question-answering": 384,
                  "regression": 128, "multi-label": 128}
DOC_STRIDE = 128  # question answering: tokens shared by a long context's consecutive windows
TINY_LENGTH, TINY_STRIDE = 128, 32  # the tiny model has 128 positions
TOPICS = ["sports", "music", "food", "travel", "technology"]


def data_settings(kind: str) -> dict[str, Any]:
    """The recipe's data section for ``kind`` without its length: which file, which columns."""
    return {
        "sequence-classification": {"source": "default"},
        "token-classification": {"source": str(EXAMPLES / "ner.conll")},
        "question-answering": {"source": str(EXAMPLES / "qa_squad_v2.json")},
        "regression": {"source": str(EXAMPLES / "regression.csv"), "label_column": "score",
                       "target_scaling": "standard"},
        "multi-label": {"source": str(EXAMPLES / "multilabel.csv"), "label_columns": TOPICS},
    }[kind]


def recipe_for(kind: str, args) -> "Recipe":  # noqa: F821 (imported lazily: the bench's --help stays light)
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    length = min(NATURAL_LENGTH[kind], TINY_LENGTH) if args.tiny else NATURAL_LENGTH[kind]
    data = DataRef(**data_settings(kind), max_length=length, train_samples=args.train_samples,
                   validation_samples=args.eval_samples, test_samples=args.eval_samples)
    if kind == "question-answering":
        data.doc_stride = TINY_STRIDE if args.tiny else DOC_STRIDE
    # max_steps is a cap (core.engine.training.total_steps): the epochs are set high enough for the small example
    # files to reach it (at one epoch a 200-row file gave the teacher 13 steps, and entity F1 3 %).
    train = {"epochs": 100, "max_steps": args.finetune_steps, "batch_size": 16, "learning_rate": 1e-4}
    steps = [Step("finetune", train, label="Teacher fine-tune"),
             Step("prune.heads", {"amount": 0.5}), Step("prune.ffn", {"amount": 0.5}),
             Step("finetune", {**train, "max_steps": max(1, args.finetune_steps // 2)}, label="Recovery"),
             Step("quant.dynamic_int8")]
    evaluation = EvaluationSettings(split="test", batch_size=32, latency_batch_size=args.batch,
                                    latency_repeats=args.rounds, latency_profiles=["throughput-fixed"])
    return Recipe(name=f"bench-{kind}", task=kind, model=ModelRef("tiny" if args.tiny else "default"), data=data,
                  steps=steps, evaluation=evaluation, device="cpu")


def row_of(kind: str, recipe, results: dict[str, Any]) -> dict[str, Any]:
    """The figures of one task's run that the table shows (the run's whole results stay in ``results``)."""
    from core.metrics.figures import unreliable
    from core.tasks.figures import HEADLINE
    from core.tasks.kinds import TaskKind

    head = HEADLINE[TaskKind.parse(kind)]
    keep = [head, f"{head}_low", f"{head}_high", f"baseline_{head}", f"{head}_retained", f"{head}_retained_low",
            f"{head}_retained_high", "speedup", "speedup_low", "speedup_high", "speed_note", "latency_ms",
            "baseline_latency_ms", "size_ratio", "evaluated", "null_threshold"]
    timing = (results.get("timing") or {}).get("throughput-fixed") or {}
    shape = f"{recipe.evaluation.latency_batch_size} x {recipe.data.max_length}"
    if kind == "question-answering":
        shape += f" (doc_stride {recipe.data.doc_stride})"
    return {"task": kind, "data": Path(recipe.data.source).name, "headline": head, "shape": shape,
            "protocol": timing.get("protocol"), "unreliable": unreliable(results),
            **{k: results[k] for k in keep if k in results}}


def _number(value: Any, kind: str = "fraction") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{100 * value:.1f} %" if kind == "fraction" else f"{value:.3f}"


def table(files: list[tuple[str, dict]]):
    """The renderer of :mod:`bench.tables` for this bench's files: one row per task kind of each file."""
    from bench.tables import Table, cell, ratio

    from core.metrics.figures import spec

    t = Table(["result file", "task", "data", "batch x tokens", "figure", "teacher", "compressed",
               "retained (95 % interval)", "speedup (IQR)", "size ratio"])
    for name, d in files:
        for row in d.get("rows", []):
            head = row.get("headline", "-")
            figure = spec(head)
            kind = figure.kind if figure else "fraction"
            retained = _number(row.get(f"{head}_retained"))
            if row.get(f"{head}_retained_low") is not None:
                retained += f" ({_number(row[f'{head}_retained_low'])}-{_number(row[f'{head}_retained_high'])})"
            speed = row.get("error") or ratio(row) + (" unreliable" if row.get("unreliable") else "")
            t.rows.append([f"{name}.json", row["task"], row.get("data", ""), row.get("shape", ""),
                           figure.label if figure else head, _number(row.get(f"baseline_{head}"), kind),
                           _number(row.get(head), kind), retained, cell(speed),
                           f"{row['size_ratio']:.2f}x" if row.get("size_ratio") else ""])
        t.notes.append(f"{name}.json: {d.get('model', '?')}; {d.get('stack', '')}."
                       + (" A tiny random BERT at shapes capped to its 128 positions: it shows that the bench runs, "
                          "not how fast or accurate a compressed model is." if d.get("tiny") else "")
                       + ("" if d.get("quiet") else " Measured on a loaded machine: the timings are not to be "
                          "quoted; the real figures need a quiet run (`python -m bench.tasks`)."))
    return t


def quiet(load_average: list[float] | None, cpus: int | None) -> bool:
    """Whether the machine was quiet enough to quote timings: a load average under a quarter of the CPUs before
    the bench started."""
    return bool(load_average) and load_average[0] < 0.25 * max(1, cpus or 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny random BERT at capped shapes (proves it runs)")
    parser.add_argument("--tasks", default=",".join(KINDS), help="comma-separated task kinds (default: all five)")
    parser.add_argument("--finetune-steps", type=int, default=None, help="teacher fine-tune steps (default 200; "
                                                                         "tiny: 4)")
    parser.add_argument("--train-samples", type=int, default=None)
    parser.add_argument("--eval-samples", type=int, default=None, help="validation and test examples each")
    parser.add_argument("--batch", type=int, default=None, help="rows per timed batch (default 32; tiny: 4)")
    parser.add_argument("--rounds", type=int, default=None, help="alternated timing rounds (default 15; tiny: 3)")
    parser.add_argument("--name", default=None, help="result file name (default tasks, tasks_tiny with --tiny)")
    args = parser.parse_args(argv)
    defaults = ({"finetune_steps": 4, "train_samples": 64, "eval_samples": 24, "batch": 4, "rounds": 3} if args.tiny
                else {"finetune_steps": 200, "train_samples": None, "eval_samples": None, "batch": 32, "rounds": 15})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    kinds = [k.strip() for k in args.tasks.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown task kinds {unknown}; choose from {', '.join(KINDS)}")
    setup()
    import os

    from core.engine import Engine

    rows = []
    load = list(os.getloadavg())  # before the bench: at its end the load counts the bench's own threads
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(workdir_root=Path(tmp) / "runs")
        for kind in kinds:
            recipe = recipe_for(kind, args)
            print(f"== {kind}", flush=True)
            run = engine.run(recipe)
            if run.status != "finished":
                rows.append({"task": kind, "headline": "-", "error": f"{run.status}: {run.error}"})
                continue
            rows.append(row_of(kind, recipe, run.results))
    name = args.name or ("tasks_tiny" if args.tiny else "tasks")
    stack = "fine-tune, prune.heads 0.5, prune.ffn 0.5, recovery fine-tune, int8 linears"
    figures = {"benchmark": "tasks", "model": "tiny random BERT" if args.tiny else "embedded MiniLM-L6",
               "tiny": args.tiny,
               "stack": stack, "finetune_steps": args.finetune_steps, "rounds": args.rounds,
               "quiet": quiet(load, os.cpu_count()), "rows": rows}
    write_result(name, figures)  # its table: python -m bench.tables (docs/results.md, bench.tables' renderer)
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
