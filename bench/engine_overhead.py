"""Training throughput through the engine (with live database recording) against a bare PyTorch loop.

Both train the embedded MiniLM on the same batches, in alternation, in one
process; throughput is taken between the first and last optimiser step, so
loading and final evaluation do not count. Target: the engine keeps at least
95 % of the bare loop's throughput.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from bench.common import setup, write_result

TARGET = 0.95


def bare_loop(state, task, steps: int, batch_size: int, lr: float, seed: int) -> float:
    import torch

    model = state.model
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    loader = task.loader("train", batch_size, shuffle=True, seed=seed)
    stamps = []
    for i, batch in enumerate(loader):
        if i == steps:
            break
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())
        stamps.append(time.perf_counter())
    return (len(stamps) - 1) * batch_size / (stamps[-1] - stamps[0])


def engine_loop(recipe, task, db_url: str, workdir: str) -> float:
    from core import events as ev
    from core.db import Recorder, open_database
    from core.engine import Engine

    engine = Engine(workdir_root=workdir)
    recorder = Recorder(open_database(db_url), engine.bus)
    stamps = []
    engine.bus.subscribe(ev.Metric, lambda e: stamps.append(time.perf_counter()), filter=lambda e: e.key == "train/loss")
    result = engine.run(recipe, task=task)
    recorder.close()
    if result.status != "finished":
        raise RuntimeError(result.error)
    batch = recipe.steps[0].settings["batch_size"]
    return (len(stamps) - 1) * batch / (stamps[-1] - stamps[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="default")
    args = parser.parse_args(argv)
    setup()
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    batch = 32
    data = DataRef(train_samples=batch * (args.steps + 1), validation_samples=32, test_samples=32, max_length=64)
    task = prepare_task(data, load_tokenizer(args.model))
    recipe = Recipe(
        name="bench-engine-overhead", model=ModelRef(args.model), data=data, device="cpu",
        steps=[Step("finetune", {"max_steps": args.steps, "batch_size": batch, "learning_rate": 5e-5, "eval_samples": 32})],
        evaluation=EvaluationSettings(max_samples=32, latency_repeats=1, latency_batch_size=8, measure_baseline=False),
    )
    bare, engine = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            bare.append(bare_loop(load_model(args.model, 2, seed=r), task, args.steps, batch, 5e-5, seed=r))
            engine.append(engine_loop(recipe, task, f"sqlite:///{tmp}/bench.db", tmp))
    ratio = statistics.median(engine) / statistics.median(bare)
    path = write_result("engine_overhead", {
        "steps": args.steps, "batch_size": batch, "max_length": 64, "model": args.model,
        "bare_samples_per_s": bare, "engine_samples_per_s": engine,
        "throughput_ratio": ratio, "target_ratio": TARGET, "passed": ratio >= TARGET,
    })
    print(f"engine / bare throughput = {ratio:.3f} (target >= {TARGET}); written to {path}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
