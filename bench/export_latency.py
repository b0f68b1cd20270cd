"""Exported ONNX Runtime int8 (and fp32 ONNX) latency against the PyTorch fp32 model, in one run.

The embedded MiniLM is briefly fine-tuned (so accuracy means something),
exported through ``core.export.export_model``, reloaded in onnxruntime, and
timed in alternation with the PyTorch fp32 model on a 32 x 64 test batch,
through the one measurement path of every latency (``core.metrics.latency``:
alternating rounds, torch's and ONNX Runtime's threads pinned to ``--threads``
and recorded with the protocol). Each speedup is the median of per-round ratios
with its 95 % confidence interval, in two columns: against the PyTorch fp32
model (runtime and compression together) and against the same model exported
to ONNX Runtime fp32 (the compression alone, the fair figure). Sizes compare
weights with weights (the state dict against model.onnx; the tokenizer files of
the export folder are not counted). Accuracy of each on the test slice is
reported beside it.
Target: ONNX Runtime int8 at least 1.3x faster than PyTorch fp32 with at least
98 % of its accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import setup, write_result

TARGET_SPEEDUP = 1.3
TARGET_RETAINED = 0.98


def accuracy(runner, task, limit: int) -> float:
    import numpy as np
    import torch

    correct = total = 0
    for batch in task.loader("test", 64, limit=limit):
        labels = batch.pop("labels")
        out = runner(**batch)
        logits = out.logits if hasattr(out, "logits") else torch.as_tensor(np.asarray(out))
        correct += int((logits.argmax(-1) == labels).sum())
        total += len(labels)
    return correct / total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finetune-steps", type=int, default=60)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of torch and ONNX Runtime alike")
    parser.add_argument("--train-samples", type=int, help="training sentences (default: 32 per fine-tuning step)")
    parser.add_argument("--model", default="default", help="model source (tiny: a smoke test of the script)")
    args = parser.parse_args(argv)
    setup(args.threads)
    import torch

    from core.data.task import prepare_task
    from core.engine import Engine
    from core.export.api import export_model
    from core.export.onnx_session import OnnxRunner
    from core.metrics.latency import batch_protocol, fixed_batch, measure_batches
    from core.metrics.timing import speed_figures
    from core.models.architecture import serialized_size
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    data = DataRef(train_samples=args.train_samples or 32 * args.finetune_steps, validation_samples=200,
                   test_samples=args.test_samples, max_length=64)
    task = prepare_task(data, load_tokenizer(args.model))
    recipe = Recipe(name="bench-export", model=ModelRef(args.model), data=data, device="cpu",
                    steps=[Step("finetune", {"max_steps": args.finetune_steps, "epochs": 1})],
                    evaluation=EvaluationSettings(max_samples=64, latency_repeats=1, measure_baseline=False))
    run = Engine().run(recipe, task=task)
    if run.status != "finished":
        raise SystemExit(run.error)
    state = run.state
    state.model.eval()
    batch = fixed_batch(task, "test", 32, 64)
    figures = {"finetune_steps": args.finetune_steps, "test_samples": args.test_samples, "model": args.model,
               "pytorch_fp32_weights_bytes": serialized_size(state.model)}
    with tempfile.TemporaryDirectory() as tmp:
        runners = {"pytorch_fp32": state.model}
        for fmt in ("onnx", "onnx-int8"):
            report = export_model(state, Path(tmp) / fmt, fmt, reference=state, batch=batch, latency_repeats=1)
            runners[fmt] = OnnxRunner(Path(report.path) / "model.onnx", threads=args.threads).eval()
            figures[f"{fmt}_weights_bytes"] = report.weights_bytes  # model.onnx alone: weights against weights
            figures[f"{fmt}_folder_bytes"] = report.size_bytes  # the whole folder, tokenizer included
            figures[f"{fmt}_max_abs_diff"] = report.max_abs_diff
        timing = measure_batches(runners, [batch], batch_protocol(batch, args.repeats, threads=args.threads))
        for name, runner in runners.items():
            figures[f"{name}_accuracy"] = accuracy(runner, task, args.test_samples)
    figures["timing"] = timing.to_dict()  # the raw rounds and the protocol (threads of both runtimes)
    figures["protocol"] = timing.protocol.describe()
    for name in runners:
        lat = timing.latency(name)
        figures[f"{name}_latency_ms"] = lat.value
        figures[f"{name}_latency_ms_ci95"] = [lat.low, lat.high]
    for fmt in ("onnx", "onnx-int8"):
        figures[f"{fmt}_vs_pytorch_fp32"] = speed_figures(timing, candidate=fmt, baseline="pytorch_fp32")
        figures[f"{fmt}_size_ratio"] = figures["pytorch_fp32_weights_bytes"] / figures[f"{fmt}_weights_bytes"]
        figures[f"{fmt}_accuracy_retained"] = figures[f"{fmt}_accuracy"] / figures["pytorch_fp32_accuracy"]
    figures["onnx-int8_vs_onnx_fp32"] = speed_figures(timing, candidate="onnx-int8", baseline="onnx")
    figures["onnx-int8_size_ratio_vs_onnx_fp32"] = figures["onnx_weights_bytes"] / figures["onnx-int8_weights_bytes"]
    speedup = figures["onnx-int8_vs_pytorch_fp32"].get("speedup") or 0.0
    passed = speedup >= TARGET_SPEEDUP and figures["onnx-int8_accuracy_retained"] >= TARGET_RETAINED
    figures.update(target_speedup=TARGET_SPEEDUP, target_retained=TARGET_RETAINED, passed=passed,
                   threads={"torch": torch.get_num_threads(), "onnxruntime": timing.protocol.onnxruntime_threads})
    write_result("export_latency", figures)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
