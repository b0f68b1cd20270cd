"""Distilling into other architectures (#24): BiLSTM and CNN students beside the 3-layer transformer student.

One teacher, MiniLM fine-tuned on the embedded review sentences (the baseline ``bench.methods`` and
``bench.frontier`` share, kept with ``--baseline-cache``), distilled into five students on the same data:

- ``transformer 3L``: every other teacher layer (``distill.student_init`` as DistilBERT does), distilled on the
  logits (KL at T = 2);
- ``bilstm`` and ``bilstm + transfer set``: Tang et al. 2019's student (embeddings of 300 projected from the
  teacher's by SVD, one BiLSTM layer of 150 per direction, max-pooling, a 200-wide MLP) distilled by MSE on
  logits, on the training split alone or with augmented copies labelled by the teacher;
- ``cnn`` and ``cnn + transfer set``: Kim's CNN (widths 3, 4, 5, 100 filters each) the same two ways.

Each student is exported three times, as the studio's safetensors folder (reloaded by the studio's loader: the
PyTorch artifact), as ONNX Runtime fp32 and as ONNX Runtime int8, and measured against the teacher in the
same process: accuracy on every test sentence with a 95 % paired bootstrap interval of the share retained,
parameters, weights on disk, and speed at batch 32 and at batch 1 (both padded to 64 tokens, latency protocol of
docs/measurement.md, all models timed in alternation): the PyTorch artifact against the teacher in PyTorch,
the ONNX Runtime ones against the teacher in ONNX Runtime fp32. Writes docs/results/students.json and .md.

``--quick`` proves the bench end to end in a minute or two: the tiny random BERT as the teacher, a few
hundred sentences, a few steps, two rounds; its figures mean nothing and go to students_quick.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, setup, write_result

PROFILES = {"batch 32": "throughput-fixed", "batch 1": "single-fixed"}
TEACHER_TORCH, TEACHER_ORT = "teacher", "teacher_onnxruntime_fp32"
BAR = 0.98  # the survey's bar: a compressed model keeps 98 % of the teacher's accuracy


def variants(quick: bool, kd_epochs: float, copies: int) -> dict[str, list]:
    """The five students' steps (each run starts from the fine-tuned teacher)."""
    from core.recipe import Step

    small = {"embedding_size": 16, "lstm_hidden_size": 16, "cnn_filters": 8, "mlp_size": 16} if quick else \
        {"embedding_size": 300, "lstm_hidden_size": 150, "cnn_filters": 100, "mlp_size": 200}
    train = {"epochs": kd_epochs, "batch_size": 32, "warmup_ratio": 0.0, **({"max_steps": 4} if quick else {})}
    rnn = {**train, "soft_loss": "mse", "alpha": 0.0, "learning_rate": 1e-3}
    out = {"transformer 3L": [Step("distill.student_init", {}),
                              Step("distill.train", {**train, "alpha": 0.0, "temperature": 2.0,
                                                     "learning_rate": 5e-5})]}
    for arch in ("bilstm", "cnn"):
        init = Step("distill.student_init", {"architecture": arch, **small})
        out[arch] = [init, Step("distill.train", rnn)]
        out[f"{arch} + transfer set"] = [copy.deepcopy(init), Step("distill.train", {**rnn, "augment_copies": copies})]
    return out


def _export(state, folder: Path, fmt: str, batch, threads: int | None):
    """(runnable artifact, weights bytes) of ``state`` exported as ``fmt`` and reloaded as a user would."""
    from core.export import load_export
    from core.export.api import export_model
    from core.export.onnx_session import OnnxRunner

    report = export_model(state, folder / fmt, fmt, batch=batch, latency_repeats=1)
    path = Path(report.path)
    model = load_export(path).model.eval() if fmt == "hf" else OnnxRunner(path / "model.onnx", threads=threads).eval()
    return model, report.weights_bytes, report.max_abs_diff


def measure(runs: list, teacher: dict, task, rounds: int, threads: int | None, tmp: Path) -> list[dict]:
    """Every finished student's three artifacts against the teacher: accuracy, size, speed (one alternation)."""
    from bench.frontier import correctness, timed
    from core.metrics.intervals import paired_retained
    from core.metrics.latency import fixed_batch
    from core.metrics.timing import speed_figures
    from core.models.architecture import count_parameters

    batch = fixed_batch(task, "validation", 32, 64)
    rows, models, owners = [], {TEACHER_TORCH: teacher["model"], TEACHER_ORT: teacher["onnx"]}, {}
    for name, run, seconds in runs:
        row = {"student": name, "run_seconds": seconds, "artifacts": {}}
        rows.append(row)
        if run.status != "finished":
            row["error"] = f"{run.status}: {run.error}"
            continue
        row["parameters"] = count_parameters(run.state.model)
        row["parameter_ratio"] = teacher["parameters"] / row["parameters"]
        for fmt, label, baseline in (("hf", "pytorch", TEACHER_TORCH), ("onnx", "onnxruntime fp32", TEACHER_ORT),
                                     ("onnx-int8", "onnxruntime int8", TEACHER_ORT)):
            model, size, diff = _export(run.state, tmp / name.replace(" ", "_"), fmt, batch, threads)
            right = correctness(model, task)
            retained = paired_retained(right, teacher["right"])
            key = f"{name} / {label}"
            models[key], owners[key] = model, (row, label, baseline)
            row["artifacts"][label] = {
                "format": fmt, "weights_bytes": size, "size_ratio": teacher["weights_bytes"] / size,
                "accuracy": sum(right) / len(right), "accuracy_retained": retained.value,
                "accuracy_retained_low": retained.low, "accuracy_retained_high": retained.high,
                "export_max_abs_diff": diff, "speed": {}}
    tasks = {key: task for key in models}
    for label, profile in PROFILES.items():
        timing, _ = timed(models, tasks, profile, rounds, threads)
        for key, (row, artifact, baseline) in owners.items():
            fig = speed_figures(timing, candidate=key, baseline=baseline)
            row["artifacts"][artifact]["speed"][label] = {**fig, "against": baseline,
                                                          "protocol": timing.protocol.describe()}
    return rows


def _speed(fig: dict) -> str:
    from bench.frontier import _x

    return _x(fig)


def markdown(rows: list[dict], teacher: dict) -> str:
    lines = [f"Teacher (fp32): {teacher['accuracy'] * 100:.2f} % on {teacher['n']} test sentences, "
             f"{teacher['parameters']:,} parameters, {teacher['weights_bytes'] / 1e6:.1f} MB of weights.", "",
             "Speedups: median of per-round ratios (95 % confidence interval), against the teacher in the same "
             "runtime (PyTorch, or ONNX Runtime fp32), padded to 64 tokens.", "",
             "| student | artifact | accuracy | retained (95 % interval) | parameters | weights MB | smaller | "
             "faster, batch 32 | faster, batch 1 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['student']} | {r['error'][:80]} | | | | | | | |")
            continue
        for label, a in r["artifacts"].items():
            lines.append(
                f"| {r['student']} | {label} | {a['accuracy'] * 100:.2f} % | {a['accuracy_retained'] * 100:.1f} % "
                f"({a['accuracy_retained_low'] * 100:.1f}-{a['accuracy_retained_high'] * 100:.1f}) | "
                f"{r['parameters']:,} | {a['weights_bytes'] / 1e6:.2f} | {a['size_ratio']:.1f}x | "
                f"{_speed(a['speed']['batch 32'])} | {_speed(a['speed']['batch 1'])} |")
    return "\n".join(lines) + "\n"


def quick_teacher(engine, data, evaluation, task, folder: Path):
    """The tiny random BERT fine-tuned for a few steps, saved where the students' recipes load it."""
    from core.models.checkpoint import save_checkpoint
    from core.recipe import ModelRef, Recipe, Step

    run = engine.run(Recipe(name="students-quick-teacher", model=ModelRef("tiny"), data=data, evaluation=evaluation,
                            steps=[Step("finetune", {"max_steps": 8, "learning_rate": 5e-3})]), task=task)
    if run.status != "finished":
        raise SystemExit(f"teacher failed: {run.error}")
    save_checkpoint(run.state, folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny teacher, few sentences and steps: proves the bench")
    parser.add_argument("--only", nargs="*", help="substrings of the student names to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=11, help="alternating latency rounds per profile")
    parser.add_argument("--train-samples", type=int, default=8000)
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0, help="the teacher's fine-tuning epochs")
    parser.add_argument("--kd-epochs", type=float, default=3.0, help="each student's distillation epochs")
    parser.add_argument("--copies", type=int, default=4, help="transfer set: augmented copies tried per sentence")
    parser.add_argument("--baseline-cache", help="folder keeping the fine-tuned teacher (shared with bench.methods "
                        "and bench.frontier); required without --quick")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of torch and ONNX Runtime alike")
    args = parser.parse_args(argv)
    if not args.quick and not args.baseline_cache:
        parser.error("--baseline-cache is required (or --quick)")
    if args.quick:
        args.train_samples, args.test_samples, args.rounds, args.copies = 128, 64, 2, 1
    setup(args.threads)
    from bench.frontier import correctness, teacher_onnx
    from core.data.task import prepare_task
    from core.engine import Engine
    from core.export import load_export
    from core.models.architecture import count_parameters
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe

    started, load_before = time.perf_counter(), os.getloadavg()
    data = DataRef(train_samples=args.train_samples, validation_samples=64 if args.quick else 500,
                   test_samples=args.test_samples, max_length=64)
    evaluation = EvaluationSettings(latency_batch_size=32, latency_repeats=2 if args.quick else 7,
                                    max_samples=64 if args.quick else None)
    task = prepare_task(data, load_tokenizer("tiny" if args.quick else "default"))
    engine = Engine(workdir_root=Path(tempfile.mkdtemp(prefix="bench-students-runs-")))
    with tempfile.TemporaryDirectory(prefix="bench-students-") as tmp_dir:
        tmp = Path(tmp_dir)
        if args.quick:
            teacher_folder = quick_teacher(engine, data, evaluation, task, tmp / "teacher")
        else:
            from bench.methods import fine_tuned_baseline

            fine_tuned_baseline(engine, data, evaluation, task, argparse.Namespace(
                epochs=args.epochs, baseline_cache=args.baseline_cache))
            teacher_folder = Path(args.baseline_cache) / "model"
        teacher_model = load_export(teacher_folder).model.eval()
        right = correctness(teacher_model, task)
        teacher = {"model": teacher_model, "right": right, "accuracy": sum(right) / len(right), "n": len(right),
                   "parameters": count_parameters(teacher_model),
                   "weights_bytes": (teacher_folder / "model.safetensors").stat().st_size,
                   "onnx": teacher_onnx(load_export(teacher_folder), task, args.threads)}
        runs = []
        for name, steps in variants(args.quick, args.kd_epochs, args.copies).items():
            if args.only and not any(s in name for s in args.only):
                continue
            recipe = Recipe(name=f"student: {name}", model=ModelRef(str(teacher_folder)), data=data,
                            evaluation=evaluation, steps=steps, seed=args.seed)
            t0 = time.perf_counter()
            run = engine.run(recipe, task=task)
            runs.append((name, run, round(time.perf_counter() - t0, 1)))
            print(f"{name}: {run.status} in {runs[-1][2]:.0f} s {run.error or ''}", flush=True)
        measured_from = os.getloadavg()
        rows = measure(runs, teacher, task, args.rounds, args.threads, tmp)
    teacher_out = {k: v for k, v in teacher.items() if k not in ("model", "onnx", "right")}
    print(markdown(rows, teacher_out), flush=True)
    name = "students_quick" if args.quick else "students"
    figures = {"teacher": teacher_out, "rows": rows, "bar": BAR, "quick": args.quick,
               "load_average_before": load_before, "load_average_before_measuring": measured_from,
               "load_average_after": os.getloadavg(), "seconds": round(time.perf_counter() - started, 1),
               "settings": vars(args)}
    write_result(name, json.loads(json.dumps(figures, default=str)))
    (RESULTS / f"{name}.md").write_text(markdown(rows, teacher_out))
    return 0 if all(not r.get("error") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
