"""ONNX Runtime export of a head-pruned MiniLM: BERT fusion with per-layer head counts, and 4-bit weights.

The embedded MiniLM-L6 has half its attention heads removed by ``prune.heads``
(gradient importance on a few training batches, no fine-tuning), so its layers
keep different head counts. Its float ONNX graph is then written four ways and
each is checked against the PyTorch model on the 32 x 64 test batch (the
export's own tolerances) and timed in alternation with the others in one
process (2 threads, median and interquartile range of the per-round ratios):

- ``onnx_fp32``: the float graph as exported;
- ``int8_unfused``: ONNX Runtime dynamic int8 of that graph (what a pruned
  model got before per-layer head counts were read: the baseline);
- ``int8_fused``: the same after ONNX Runtime's BERT fusion (Attention nodes
  with each layer's own head count);
- ``int4``: MatMulNBits 4-bit linear weights and GatherBlockQuantized 4-bit
  embedding rows, after fusion to MultiHeadAttention.

Without fine-tuning the classifier is the model's random head, so the
agreement figures say how faithfully each export reproduces the PyTorch
model's logits, not task accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from bench.common import setup, write_result

THREADS = 2
VARIANTS = ("onnx_fp32", "int8_unfused", "int8_fused", "int4")
# (candidate, baseline): speedup = baseline latency / candidate latency, round by round
RATIOS = (("int8_fused", "int8_unfused"), ("int8_fused", "onnx_fp32"), ("int8_unfused", "onnx_fp32"),
          ("int4", "onnx_fp32"), ("int4", "int8_fused"), ("int4", "int8_unfused"))


def pruned_state(task, data, amount: float, batches: int):
    from core.engine import Engine
    from core.recipe import EvaluationSettings, ModelRef, Recipe, Step

    recipe = Recipe(name="bench-export-fusion", model=ModelRef("default"), data=data, device="cpu",
                    steps=[Step("prune.heads", {"amount": amount, "batches": batches, "batch_size": 16})],
                    evaluation=EvaluationSettings(max_samples=64, latency_repeats=1, measure_baseline=False))
    run = Engine().run(recipe, task=task)
    if run.status != "finished":
        raise SystemExit(run.error)
    run.state.model.eval()
    return run.state


def write_variants(state, folder: Path, batch, block_size: int) -> dict[str, tuple[Path, list[str]]]:
    from core.export.onnx_graph import export_graph
    from core.export.onnx_int8 import quantize_graph
    from core.export.onnx_int4 import quantize_int4

    float_file = folder / "float.onnx"
    export_graph(state, float_file, batch)
    out = {"onnx_fp32": (float_file, [])}
    for name, fusion in (("int8_unfused", False), ("int8_fused", True)):
        notes: list[str] = []
        quantize_graph(state, float_file, folder / f"{name}.onnx", notes, batch, fusion=fusion)
        out[name] = (folder / f"{name}.onnx", notes)
    notes = []
    quantize_int4(state, float_file, folder / "int4.onnx", notes, batch, block_size=block_size)
    out["int4"] = (folder / "int4.onnx", notes)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--amount", type=float, default=0.5, help="share of attention heads removed")
    parser.add_argument("--score-batches", type=int, default=4, help="training batches scoring the heads")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block-size", type=int, default=32, help="int4: rows per scale (power of two, >= 16)")
    args = parser.parse_args(argv)
    setup(THREADS)
    import onnx

    from core.data.task import prepare_task
    from core.export import verify
    from core.export.api import _tolerance
    from core.export.onnx_session import OnnxRunner
    from core.metrics.latency import batch_protocol, fixed_batch, measure_batches, speed_figures
    from core.models.architecture import layer_shapes
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef

    data = DataRef(train_samples=16 * args.score_batches, validation_samples=64, test_samples=64, max_length=64)
    task = prepare_task(data, load_tokenizer("default"))
    state = pruned_state(task, data, args.amount, args.score_batches)
    batch = fixed_batch(task, "test", 32, 64)
    batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    expected = verify.logits_of(state.model, batch)
    figures = {"amount": args.amount, "heads_per_layer": [s["heads"] for s in layer_shapes(state.model)],
               "batch": "32 x 64 tokens", "threads": THREADS, "int4_block_size": args.block_size}
    tolerances = {"onnx_fp32": _tolerance("onnx", False), "int8_unfused": _tolerance("onnx-int8", False),
                  "int8_fused": _tolerance("onnx-int8", False), "int4": _tolerance("onnx-int4", False)}
    with tempfile.TemporaryDirectory() as tmp:
        variants = write_variants(state, Path(tmp), batch, args.block_size)
        runners = {}
        for name, (file, notes) in variants.items():
            runner = OnnxRunner(file, threads=THREADS)
            diff, agreement = verify.compare(expected, verify.logits_of(runner, batch), tolerances[name], name)
            ops = Counter(n.op_type for n in onnx.load(str(file)).graph.node)
            figures[name] = {"size_bytes": file.stat().st_size, "max_abs_diff": diff, "argmax_agreement": agreement,
                             "tolerance": tolerances[name].describe(), "notes": notes,
                             "attention_nodes": sum(ops[op] for op in ("Attention", "QAttention",
                                                                       "MultiHeadAttention")),
                             "op_types": dict(sorted(ops.items()))}
            runners[name] = runner
        protocol = batch_protocol(batch, args.rounds, threads=THREADS)
        timing = measure_batches(runners, [batch], protocol)
    figures["logit_range"] = [float(expected.min()), float(expected.max())]
    figures["protocol"] = protocol.describe()
    for name in VARIANTS:
        lat = timing.latency(name)
        figures[name].update(latency_ms=lat.value, latency_ms_low=lat.low, latency_ms_high=lat.high)
    figures["ratios"] = {}
    for candidate, baseline in RATIOS:
        speed = speed_figures(timing, candidate=candidate, baseline=baseline)
        figures["ratios"][f"{candidate}_vs_{baseline}"] = {
            "speedup": speed.get("speedup"), "speedup_low": speed.get("speedup_low"),
            "speedup_high": speed.get("speedup_high"),
            "size_ratio": figures[baseline]["size_bytes"] / figures[candidate]["size_bytes"]}
    figures["timing"] = timing.to_dict()
    write_result("export_fusion", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
