"""Past the survey's target: the frontier stack's deployable artifact against the fp32 teacher, two seeds.

The teacher is MiniLM fine-tuned on the embedded review sentences (the same
baseline as ``bench.methods``' survey-target figures, kept between invocations
with ``--baseline-cache``). Each stack of ``resources/recipes/frontier-10x.yaml``
(its teacher fine-tune replaced by the kept teacher) and of its shorter variant
runs for every seed; the compressed model is then exported twice, as an HF folder
(reloaded through the studio's own loader: the PyTorch artifact) and as ONNX
Runtime int8, and each artifact is measured against the fp32 teacher in the same
process:

- size: the weights file on disk (model.safetensors / model.onnx) against the teacher's;
- accuracy: every test sentence, tokenized by the artifact's own tokenizer (the
  vocabulary step rewrites it), with a 95 % paired bootstrap interval of the share retained;
- speed: under all four latency profiles (batch 32 and batch 1, padded to 64 tokens
  and at the real lengths), the teacher in PyTorch, the same teacher exported to
  ONNX Runtime fp32 and both artifacts timed in alternation, torch's and ONNX
  Runtime's threads pinned to ``--threads`` and recorded with each protocol; the
  speedup is the median of the per-round ratios with its 95 % confidence interval,
  in two columns: against the teacher in PyTorch (the change of runtime and the
  compression together) and against the teacher in ONNX Runtime fp32 (the
  compression alone, the fair figure for an ONNX Runtime artifact).

The deployable artifact of a run is the faster of the two at batch 32 x 64.
Target: >= 98 % retained, >= 10x smaller and >= 8x faster (batch 32 x 64, 2 threads)
on both seeds. Writes docs/results/frontier.json and frontier.md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, setup, write_result

RECIPE = Path(__file__).resolve().parent.parent / "resources" / "recipes" / "frontier-10x.yaml"
TARGET = {"accuracy_retained": 0.98, "size_ratio": 10.0, "speedup": 8.0}
PRIMARY = "throughput-fixed"
TEACHER_ONNX = "teacher_onnxruntime_fp32"  # the teacher exported to ONNX Runtime fp32: the fair baseline of an ORT artifact
FAIR = "speedup_vs_onnxruntime_fp32"  # the speedup against it (with _low, _high, _level, _q1, _q3 like speedup's)


def stacks(recipe) -> dict[str, list]:
    """The shipped stack (its teacher fine-tune dropped: the kept teacher stands for it) and a milder variant
    that stops before the second FFN cut (the two share their first steps, which the step cache reuses)."""
    steps = [s for s in recipe.steps if s.method != "finetune"]
    second_cut = next(i for i, s in enumerate(steps) if s.label == "Halve the FFN again")
    milder = steps[:second_cut] + steps[second_cut + 2:]
    return {"frontier": steps, "milder (FFN halved once)": milder}


def correctness(model, task, batch_size: int = 64) -> list[bool]:
    """Whether ``model`` (torch or ONNX runner) gets each test sentence right, in the split's order."""
    import numpy as np
    import torch

    right: list[bool] = []
    with torch.no_grad():
        for batch in task.loader("test", batch_size):
            labels = batch.pop("labels")
            out = model(**batch)
            logits = out.logits if hasattr(out, "logits") else torch.as_tensor(np.asarray(out))
            right.extend((logits.argmax(-1) == labels).tolist())
    return right


def timed(models: dict, tasks: dict, profile: str, rounds: int, threads: int | None = None):
    """Every model timed under ``profile`` in alternation, each on batches of its own tokenization; torch's
    threads pinned to ``threads`` and the ONNX Runtime sessions' recorded beside them."""
    from core.metrics.latency import as_callable, onnxruntime_threads, profile_workload, time_rounds
    from core.metrics.protocol import Protocol, machine

    fns, counts, shape = {}, set(), None
    for name, model in models.items():
        batches, own = profile_workload(tasks[name], "test", profile, 32, 64)
        shape = shape or own
        fns[name] = as_callable(model, batches)
        counts.add(len(batches))
    protocol = Protocol(**shape, warmup=1, rounds=rounds, **machine(threads),
                        onnxruntime_threads=onnxruntime_threads(models))
    if len(counts) != 1:
        raise SystemExit(f"the workloads of {profile} differ in batches: {counts}")
    return time_rounds(fns, protocol, batches_per_call=counts.pop()), shape


def measure(name: str, seed: int, run, teacher, teacher_task, teacher_right, data, rounds: int,
            threads: int | None = None) -> dict:
    """Export the run's model twice, reload both artifacts, and measure them against the teacher."""
    from core.data.task import prepare_task
    from core.errors import ExportError
    from core.export.api import export_model
    from core.export import load_export
    from core.export.onnx_session import OnnxRunner
    from core.metrics.intervals import paired_retained
    from core.metrics.latency import fixed_batch
    from core.metrics.timing import speed_figures

    state = run.state
    task = prepare_task(data, state.tokenizer)  # what the exported folder's own tokenizer makes of the text
    batch = fixed_batch(task, "validation", 32, 64)
    row = {"stack": name, "seed": seed, "run_results": run.results, "artifacts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {}
        for fmt, label in (("hf", "pytorch"), ("onnx-int8", "onnxruntime")):
            try:
                report = export_model(state, Path(tmp) / fmt, fmt, batch=batch, latency_repeats=1)
            except ExportError as exc:  # recorded, and the other artifact is still measured
                row.setdefault("export_errors", {})[label] = str(exc)
                print(f"{name} seed {seed}: the {fmt} export failed: {exc}", flush=True)
                continue
            folder = Path(report.path)
            artifacts[label] = (load_export(folder).model.eval() if fmt == "hf"
                                else OnnxRunner(folder / "model.onnx", threads=threads).eval())
            right = correctness(artifacts[label], task)
            retained = paired_retained(right, teacher_right)
            row["artifacts"][label] = {
                "format": fmt, "weights_bytes": report.weights_bytes, "folder_bytes": report.size_bytes,
                "size_ratio": teacher["weights_bytes"] / report.weights_bytes,
                "accuracy": sum(right) / len(right), "accuracy_retained": retained.value,
                "accuracy_retained_low": retained.low, "accuracy_retained_high": retained.high,
                "export_max_abs_diff": report.max_abs_diff, "export_argmax_agreement": report.argmax_agreement,
                "export_notes": list(report.notes),
                "profiles": {}}
        if not artifacts:
            row.update(deployable=None, meets_target=False)
            return row
        models = {"baseline": teacher["model"], TEACHER_ONNX: teacher["onnx"], **artifacts}
        tasks = {"baseline": teacher_task, TEACHER_ONNX: teacher_task, **{label: task for label in artifacts}}
        for profile in ("throughput-fixed", "throughput-dynamic", "single-fixed", "single-dynamic"):
            timing, shape = timed(models, tasks, profile, rounds, threads)
            for label in artifacts:
                fig = speed_figures(timing, candidate=label)
                fair = speed_figures(timing, candidate=label, baseline=TEACHER_ONNX)
                row["artifacts"][label]["profiles"][profile] = {
                    **fig, **{FAIR + k[len("speedup"):]: v for k, v in fair.items() if k.startswith("speedup")},
                    **({f"{FAIR}_note": fair["speed_note"]} if "speed_note" in fair else {}),
                    "mean_length": shape.get("mean_length"), "protocol": timing.protocol.describe(),
                    "timing": timing.to_dict()}
    speed = {label: a["profiles"][PRIMARY].get("speedup") or 0.0 for label, a in row["artifacts"].items()}
    if not speed:
        row.update(deployable=None, meets_target=False)
        return row
    row["deployable"] = max(speed, key=speed.get)
    best = row["artifacts"][row["deployable"]]
    row["meets_target"] = (best["accuracy_retained"] >= TARGET["accuracy_retained"]
                           and best["size_ratio"] >= TARGET["size_ratio"]
                           and speed[row["deployable"]] >= TARGET["speedup"])
    return row


def teacher_onnx(teacher_state, task, threads: int | None):
    """The teacher exported to ONNX Runtime fp32 (kept in a temporary folder for the process's life)."""
    from core.export.api import export_model
    from core.export.onnx_session import OnnxRunner
    from core.metrics.latency import fixed_batch

    folder = Path(tempfile.mkdtemp(prefix="frontier-teacher-onnx-"))
    report = export_model(teacher_state, folder / "onnx", "onnx", batch=fixed_batch(task, "validation", 32, 64),
                          latency_repeats=1)
    return OnnxRunner(Path(report.path) / "model.onnx", threads=threads).eval()


def _x(fig: dict, key: str = "speedup") -> str:
    """``"8.52x (6.70-8.90)"``: the median of per-round ratios and its 95 % confidence interval."""
    if fig.get(key) is None:
        return fig.get("speed_note" if key == "speedup" else f"{key}_note", "n/a")
    if not fig.get(f"{key}_low") or fig[f"{key}_low"] != fig[f"{key}_low"]:  # one round: no interval
        return f"{fig[key]:.2f}x (no interval: one round)"
    level = fig.get(f"{key}_level", 0.95)
    note = "" if level >= 0.95 else f"; {100 * level:.1f} % CI"
    return f"{fig[key]:.2f}x ({fig[f'{key}_low']:.2f}-{fig[f'{key}_high']:.2f}{note})"


def markdown(rows: list[dict], teacher: dict) -> str:
    lines = [f"Teacher (fp32, PyTorch): {teacher['accuracy'] * 100:.2f} % on {teacher['n']} test sentences, "
             f"{teacher['weights_bytes'] / 1e6:.1f} MB of weights.", "",
             "Speedups: the median of per-round ratios, in brackets its 95 % confidence interval; against the "
             "teacher in PyTorch fp32, and (last two columns) against the same teacher in ONNX Runtime fp32.", "",
             "| stack | seed | artifact | accuracy | retained (95 % interval) | weights MB | smaller | "
             "faster, 32 x 64 | 32 x real lengths | 1 x 64 | 1 x real lengths | "
             "vs ORT fp32 teacher, 32 x 64 | vs ORT fp32 teacher, 1 x 64 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['stack']} | {r['seed']} | {r['error'][:80]} | | | | | | | | | | |")
            continue
        for label, why in r.get("export_errors", {}).items():
            lines.append(f"| {r['stack']} | {r['seed']} | {label}: export failed ({why[:80]}) | | | | | | | | | | |")
        for label, a in r["artifacts"].items():
            p = a["profiles"]
            mark = " (deployable)" if label == r["deployable"] else ""
            lines.append(
                f"| {r['stack']} | {r['seed']} | {label}{mark} | {a['accuracy'] * 100:.2f} % | "
                f"{a['accuracy_retained'] * 100:.1f} % ({a['accuracy_retained_low'] * 100:.1f}-"
                f"{a['accuracy_retained_high'] * 100:.1f}) | {a['weights_bytes'] / 1e6:.2f} | {a['size_ratio']:.1f}x | "
                f"{_x(p['throughput-fixed'])} | {_x(p['throughput-dynamic'])} | {_x(p['single-fixed'])} | "
                f"{_x(p['single-dynamic'])} | {_x(p['throughput-fixed'], FAIR)} | {_x(p['single-fixed'], FAIR)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", nargs="*", help="substrings of the stack names to run")
    parser.add_argument("--rounds", type=int, default=11, help="alternating latency rounds per profile")
    parser.add_argument("--train-samples", type=int, default=8000)
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0, help="the teacher's fine-tuning epochs")
    parser.add_argument("--baseline-cache", required=True, help="folder keeping the fine-tuned teacher (shared with "
                        "bench.methods: the same data and epochs reuse it)")
    parser.add_argument("--step-cache", help="folder of the step cache (default: a folder inside --baseline-cache)")
    parser.add_argument("--db", help="also record every run in this database (SQLAlchemy URL)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of torch and ONNX Runtime alike")
    args = parser.parse_args(argv)
    setup(args.threads)
    import torch

    from bench.methods import fine_tuned_baseline
    from core.data.task import prepare_task
    from core.engine import Engine
    from core.engine.cache import StepCache
    from core.export import load_export
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe

    started, load_before = time.perf_counter(), os.getloadavg()
    data = DataRef(train_samples=args.train_samples, validation_samples=500, test_samples=args.test_samples, max_length=64)
    evaluation = EvaluationSettings(latency_batch_size=32, latency_repeats=7)
    task = prepare_task(data, load_tokenizer("default"))
    cache_dir = Path(args.step_cache or Path(args.baseline_cache) / "step-cache")
    engine = Engine(cache=StepCache(cache_dir))
    if args.db:
        from core.db import Recorder, open_database

        Recorder(open_database(args.db), engine.bus)
    fine_tuned_baseline(engine, data, evaluation, task, argparse.Namespace(epochs=args.epochs,
                                                                             baseline_cache=args.baseline_cache))
    teacher_folder = Path(args.baseline_cache) / "model"
    teacher_model = load_export(teacher_folder).model.eval()
    weights = teacher_folder / "model.safetensors"
    teacher_right = correctness(teacher_model, task)
    teacher = {"model": teacher_model, "weights_bytes": weights.stat().st_size,
               "accuracy": sum(teacher_right) / len(teacher_right), "n": len(teacher_right),
               "onnx": teacher_onnx(load_export(teacher_folder), task, args.threads)}
    print(f"teacher: {teacher['accuracy']:.4f} on {teacher['n']} sentences, {teacher['weights_bytes'] / 1e6:.1f} MB",
          flush=True)
    shipped = Recipe.load(RECIPE)
    runs = []  # every stack is trained first, then every artifact is measured, so all are timed alike
    for seed in args.seeds:
        for name, steps in stacks(shipped).items():
            if args.only and not any(s in name for s in args.only):
                continue
            recipe = dataclasses.replace(shipped, name=f"{name} (seed {seed})", model=ModelRef(str(teacher_folder)),
                                         data=data, evaluation=evaluation, steps=copy.deepcopy(steps), seed=seed)
            t0 = time.perf_counter()
            run = engine.run(recipe)
            runs.append((name, seed, run, round(time.perf_counter() - t0, 1)))
            print(f"{name} seed {seed}: {run.status} in {runs[-1][3]:.0f} s {run.error or ''}", flush=True)
    measured_from = os.getloadavg()
    rows = []
    for name, seed, run, seconds in runs:
        if run.status != "finished":
            rows.append({"stack": name, "seed": seed, "error": f"{run.status}: {run.error}"})
            continue
        row = measure(name, seed, run, teacher, task, teacher_right, data, args.rounds, args.threads)
        row["run_seconds"] = seconds
        rows.append(row)
        print(markdown(rows, teacher), flush=True)
    teacher_out = {k: v for k, v in teacher.items() if k not in ("model", "onnx")}
    figures = {"teacher": teacher_out, "rows": rows, "target": TARGET, "recipe": str(RECIPE.name),
               "threads": torch.get_num_threads(), "load_average_before": load_before,
               "load_average_before_measuring": measured_from,
               "load_average_after": os.getloadavg(), "seconds": round(time.perf_counter() - started, 1),
               "settings": vars(args)}
    write_result("frontier", json.loads(json.dumps(figures, default=str)))
    (RESULTS / "frontier.md").write_text(markdown(rows, teacher_out))
    met = [r for r in rows if r.get("meets_target")]
    return 0 if met and all(r.get("meets_target") for r in rows if r["stack"] == "frontier") else 1


if __name__ == "__main__":
    raise SystemExit(main())
