"""What each method and a few stacks buy on the embedded default, measured in one run.

The baseline is MiniLM fine-tuned on the review sentences; every variant
starts from a copy of it, and its accuracy, size and CPU latency are measured
against the baseline in the same process (latency timed in alternation).
Writes docs/results/methods.json and methods.md (a table like a survey's).
Target for the best stack: >= 5x faster, >= 5x smaller, >= 98 % of the accuracy.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

from bench.common import RESULTS, setup, write_result

TARGET = {"speedup": 5.0, "size_ratio": 5.0, "accuracy_retained": 0.98}


BEST = "best: 3-layer student + KD + FFN halved + KD + int8 (embeddings 8-bit)"


def variants(rec: dict, kd: dict, kd_long: dict) -> list[tuple[str, list]]:
    from core.recipe import Step as S

    student = S("distill.student_init", {"mode": "layers", "num_layers": 3})
    int8_all = S("quant.dynamic_int8", {"embedding_bits": 8})
    return [
        ("dynamic int8 (post-training)", [S("quant.dynamic_int8")]),
        ("QAT int8", [S("quant.qat", rec)]),
        ("4-bit weights, group 128", [S("quant.kbit", {"bits": 4})]),
        ("magnitude 50 % + recovery", [S("prune.magnitude", {"sparsity": 0.5}), S("finetune", rec)]),
        ("gradual magnitude to 70 %", [S("prune.gradual_magnitude", {"final_sparsity": 0.7, **rec})]),
        ("half the heads + recovery", [S("prune.heads", {"amount": 0.5}), S("finetune", rec)]),
        ("half the FFN + recovery", [S("prune.ffn", {"amount": 0.5}), S("finetune", rec)]),
        ("3 of 6 layers + recovery", [S("prune.layers", {"strategy": "every_other"}), S("finetune", rec)]),
        ("low-rank FFN (25 %) + recovery", [S("factorize.linear", {"targets": "ffn", "ratio": 0.25}), S("finetune", rec)]),
        ("factorized embeddings E=128 + recovery", [S("factorize.embeddings", {"embedding_size": 128}), S("finetune", rec)]),
        ("layers shared in pairs + recovery", [S("share.layers", {"group_size": 2, **rec})]),
        ("3-layer student + KD", [student, S("distill.train", kd)]),
        ("stack: 3-layer student + KD + int8", [student, S("distill.train", kd), S("quant.dynamic_int8")]),
        ("stack: heads + FFN halved + KD + int8",
         [S("prune.heads", {"amount": 0.5}), S("prune.ffn", {"amount": 0.5}), S("distill.train", kd), S("quant.dynamic_int8")]),
        ("stack: student + heads + FFN halved + E=128 + KD + int8",
         [student, S("prune.heads", {"amount": 0.5}), S("prune.ffn", {"amount": 0.5}),
          S("factorize.embeddings", {"embedding_size": 128}), S("distill.train", kd), S("quant.dynamic_int8")]),
        # The levers of the frontier issue, each against its nearest older method above.
        ("block movement pruning: heads + FFN halved (during fine-tuning)",
         [S("prune.movement", {"granularity": "blocks", "heads_amount": 0.5, "ffn_amount": 0.5, **rec})]),
        ("movement pruning of weights to 70 %", [S("prune.movement", {"granularity": "weights", "final_sparsity": 0.7, **rec})]),
        ("RPP (reweighted proximal) to 70 %", [S("prune.rpp", {"target_sparsity": 0.7, **rec})]),
        ("4-bit average, bits per layer from the Hessian (Q-BERT)",
         [S("quant.kbit", {"bits_from": "hessian", "budget_bits": 4})]),
        ("narrow student 3 x 256, random layers + KD",
         [S("distill.student_init", {"mode": "config", "num_layers": 3, "hidden_size": 256, "num_heads": 8,
                                     "intermediate_size": 1024}), S("distill.train", {**kd, "hidden_weight": 1.0})]),
        ("narrow student 3 x 256, projected layers + KD",
         [S("distill.student_init", {"mode": "config", "num_layers": 3, "hidden_size": 256, "num_heads": 8,
                                     "intermediate_size": 1024, "init_layers": True}),
          S("distill.train", {**kd, "hidden_weight": 1.0})]),
        ("vocabulary of the training text (+ every character)", [S("prune.vocabulary", {"keep_characters": True})]),
        # The survey's target: >= 5x faster, >= 5x smaller, >= 98 % of the accuracy. Layers and FFN width make
        # it fast, int8 everywhere (embeddings included) makes it small, and distillation, before and after
        # the FFN cut, keeps the accuracy.
        (BEST, [student, S("distill.train", kd_long), S("prune.ffn", {"amount": 0.5}), S("distill.train", kd), int8_all]),
    ]


def markdown(rows: list[dict], baseline: dict) -> str:
    head = ("| variant | test acc | retained | params | size MB | size ratio | speedup | status |\n"
            "|---|---|---|---|---|---|---|---|")
    lines = [head, f"| fine-tuned baseline | {baseline['accuracy'] * 100:.2f} % | 100 % | {baseline['parameters'] / 1e6:.1f} M | "
                   f"{baseline['size_bytes'] / 1e6:.1f} | 1.0x | 1.0x | |"]
    for r in rows:
        res = r.get("results") or {}
        if r["status"] != "finished":
            lines.append(f"| {r['name']} | | | | | | | {r['status']}: {r.get('error', '')[:60]} |")
            continue
        lines.append(
            f"| {r['name']} | {res['accuracy'] * 100:.2f} % | {res['accuracy_retained'] * 100:.1f} % | "
            f"{res['parameters'] / 1e6:.1f} M | {res['size_bytes'] / 1e6:.1f} | {res['size_ratio']:.1f}x | "
            f"{res['speedup']:.2f}x | {r['seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def fine_tuned_baseline(engine, data, evaluation, task, args):
    """Fine-tune MiniLM (or reuse the copy kept in ``--baseline-cache`` for the same settings); returns
    the evaluated run result and the model state every variant starts from."""
    from dataclasses import asdict
    from pathlib import Path

    from core.models.checkpoint import save_checkpoint
    from core.export import load_export
    from core.recipe import ModelRef, Recipe, Step

    finetune = Step("finetune", {"epochs": args.epochs, "learning_rate": 5e-5})
    key = {"data": asdict(data), "finetune": finetune.settings, "model": "default"}
    cache = Path(args.baseline_cache) if args.baseline_cache else None
    if cache is not None and (cache / "bench-key.json").is_file() and json.loads((cache / "bench-key.json").read_text()) == key:
        print(f"baseline: reusing the fine-tuned model kept in {cache}", flush=True)
        recipe = Recipe(name="bench-baseline (kept)", model=ModelRef(str(cache / "model")), data=data,
                        evaluation=evaluation, steps=[Step("evaluate")])
        base = engine.run(recipe, task=task, initial_state=load_export(cache / "model"))
    else:
        recipe = Recipe(name="bench-baseline", model=ModelRef("default"), data=data, evaluation=evaluation,
                        steps=[finetune])
        base = engine.run(recipe, task=task)
        if base.status == "finished" and cache is not None:
            save_checkpoint(base.state, cache / "model")
            (cache / "bench-key.json").write_text(json.dumps(key))
    if base.status != "finished":
        raise SystemExit(f"baseline failed: {base.error}")
    return base, base.state


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-samples", type=int, default=2000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=1.0, help="baseline fine-tuning epochs")
    parser.add_argument("--recovery-epochs", type=float, default=1.0)
    parser.add_argument("--kd-epochs", type=float, help="distillation epochs of the best stack's student "
                        "(default: the recovery epochs)")
    parser.add_argument("--only", nargs="*", help="substrings of variant names to run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the variants' training (the baseline keeps seed 0)")
    parser.add_argument("--baseline-cache", help="folder keeping the fine-tuned baseline between invocations with the "
                        "same data and epochs (it is still measured against every variant in the same run)")
    parser.add_argument("--db", help="also record every run in this database (SQLAlchemy URL) to compare them in the studio")
    args = parser.parse_args(argv)
    setup()
    from core.data.task import prepare_task
    from core.engine import Engine
    from core.models.loading import load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe

    data = DataRef(train_samples=args.train_samples, validation_samples=500, test_samples=args.test_samples, max_length=64)
    evaluation = EvaluationSettings(latency_batch_size=32, latency_repeats=7)
    task = prepare_task(data, load_tokenizer("default"))
    engine = Engine()
    if args.db:
        from core.db import Recorder, open_database

        Recorder(open_database(args.db), engine.bus)
    t0 = time.time()
    base, baseline_state = fine_tuned_baseline(engine, data, evaluation, task, args)
    print(f"baseline: accuracy {base.results['accuracy']:.4f} in {time.time() - t0:.0f} s", flush=True)
    rec = {"epochs": args.recovery_epochs, "learning_rate": 5e-5}
    kd = {"epochs": args.recovery_epochs, "learning_rate": 1e-4, "temperature": 2.0, "alpha": 0.5}
    kd_long = {**kd, "epochs": args.kd_epochs or args.recovery_epochs}
    rows = []
    for name, steps in variants(rec, kd, kd_long):
        if args.only and not any(s in name for s in args.only):
            continue
        start = time.time()
        recipe = Recipe(name=name, model=ModelRef("default"), data=data, evaluation=evaluation, steps=steps,
                        seed=args.seed)
        state = baseline_state.replace(model=copy.deepcopy(baseline_state.model))
        result = engine.run(recipe, task=task, initial_state=state)
        rows.append({"name": name, "status": result.status, "error": result.error, "results": result.results,
                     "seconds": time.time() - start, "steps": [s.method for s in steps]})
        print(f"{name}: {result.status} {json.dumps({k: round(v, 4) for k, v in result.results.items() if isinstance(v, (int, float))})} {result.error}", flush=True)
    table = markdown(rows, base.results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "methods.md").write_text(table)
    best = [r for r in rows if r["status"] == "finished" and all(r["results"].get(k, 0) >= v for k, v in TARGET.items())]
    write_result("methods", {"baseline": base.results, "variants": rows, "target": TARGET,
                             "meets_target": [r["name"] for r in best], "settings": vars(args)})
    print(table)
    return 0 if best else 1


if __name__ == "__main__":
    raise SystemExit(main())
