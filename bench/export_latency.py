"""Exported ONNX Runtime int8 (and fp32 ONNX) latency against the PyTorch fp32 model, in one run.

The embedded MiniLM is briefly fine-tuned (so accuracy means something),
exported through ``core.export.export_model``, reloaded in onnxruntime, and
timed in alternation with the PyTorch fp32 model on a 32 x 64 test batch.
Accuracy of each on the test slice is reported beside it.
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
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    setup()
    import torch

    from core.data.task import prepare_task
    from core.engine import Engine
    from core.export.api import export_model
    from core.export import load_export  # noqa: F401  (hf reload path, for completeness)
    from core.export.onnx_session import OnnxRunner
    from core.metrics.latency import compare_latency, fixed_batch
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    data = DataRef(train_samples=32 * args.finetune_steps, validation_samples=200, test_samples=args.test_samples, max_length=64)
    task = prepare_task(data, load_tokenizer("default"))
    recipe = Recipe(name="bench-export", model=ModelRef("default"), data=data, device="cpu",
                    steps=[Step("finetune", {"max_steps": args.finetune_steps, "epochs": 1})],
                    evaluation=EvaluationSettings(max_samples=64, latency_repeats=1, measure_baseline=False))
    run = Engine().run(recipe, task=task)
    if run.status != "finished":
        raise SystemExit(run.error)
    state = run.state
    state.model.eval()
    batch = fixed_batch(task, "test", 32, 64)
    figures = {"finetune_steps": args.finetune_steps, "test_samples": args.test_samples}
    with tempfile.TemporaryDirectory() as tmp:
        runners = {"pytorch_fp32": state.model}
        for fmt in ("onnx", "onnx-int8"):
            report = export_model(state, Path(tmp) / fmt, fmt, reference=state, batch=batch)
            runners[fmt] = OnnxRunner(Path(report.path) / "model.onnx").eval()
            figures[f"{fmt}_size_bytes"] = report.size_bytes
            figures[f"{fmt}_max_abs_diff"] = report.max_abs_diff
        times = compare_latency(runners, batch, repeats=args.repeats)
        for name, runner in runners.items():
            figures[f"{name}_latency_ms"] = times[name] * 1000
            figures[f"{name}_accuracy"] = accuracy(runner, task, args.test_samples)
    from core.models.architecture import serialized_size

    figures["pytorch_fp32_size_bytes"] = serialized_size(state.model)
    for fmt in ("onnx", "onnx-int8"):
        figures[f"{fmt}_speedup"] = figures["pytorch_fp32_latency_ms"] / figures[f"{fmt}_latency_ms"]
        figures[f"{fmt}_accuracy_retained"] = figures[f"{fmt}_accuracy"] / figures["pytorch_fp32_accuracy"]
    passed = figures["onnx-int8_speedup"] >= TARGET_SPEEDUP and figures["onnx-int8_accuracy_retained"] >= TARGET_RETAINED
    figures.update(target_speedup=TARGET_SPEEDUP, target_retained=TARGET_RETAINED, passed=passed, threads=torch.get_num_threads())
    write_result("export_latency", figures)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
